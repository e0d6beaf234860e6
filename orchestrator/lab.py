"""The VM lifecycle and the retry policy of one process: it boots a guest per kernel (one
at a time), replaces a guest that died, retries a failed program once in a fresh VM when
asked, applies the expectations and writes a part file per result."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import baseline, expect, verdict
from .beacon import Beacon
from .boot import QemuGuest, SystemUnderTest
from .console import Execution
from .errors import InfraError, InfraRecord
from .parts import BootRecord, Parts
from .plan import Plan, PlannedKernel
from .run import ProgramResult, classify, merge_retry

# Makes the system under test for a kernel, with its console log.
GuestFactory = Callable[[Plan, PlannedKernel, Path], SystemUnderTest]


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def qemu_guest(plan: Plan, kernel: PlannedKernel, console_log: Path) -> SystemUnderTest:
    return QemuGuest(plan.vm, Path(kernel.image), Path(kernel.initramfs), console_log)


def evaluate(
    kernel: str, version: str, execution: Execution, rules: list[expect.Expectation]
) -> ProgramResult:
    """What one execution means: its results, with the expectations applied."""
    result = classify(kernel, execution)
    expect.apply(result, version, rules)
    return result


class Lab:
    """The VMs of this process (one at a time) and the part files it writes."""

    def __init__(self, plan: Plan, start_guest: GuestFactory = qemu_guest) -> None:
        self.plan = plan
        self.run_dir = Path(plan.run_dir)
        self.parts = Parts(self.run_dir)
        self.start_guest = start_guest
        self.guest: SystemUnderTest | None = None
        self.guest_kernel = ""
        self.boots = 0
        self.broken: dict[str, InfraError] = {}
        self.expectations = expect.load(Path(plan.expectations)) if plan.expectations else []
        self.baseline = baseline.load(Path(plan.baseline)) if plan.baseline else None
        self.beacon = Beacon(self.run_dir, worker_id())

    def deciding(self, result: ProgramResult) -> list[str]:
        """What makes @result fail the run (see verdict.deciding)."""
        comparison = None
        if self.baseline is not None:
            names = [k.name for k in self.plan.kernels]
            comparison = baseline.compare(self.baseline, names, [result])
        return verdict.deciding(result, comparison, self.plan.subtests)

    def _ensure_guest(self, name: str) -> SystemUnderTest:
        if name in self.broken:
            raise self.broken[name]
        if self.guest is not None and (self.guest_kernel != name or not self.guest.alive):
            self.guest.shutdown()
            self.guest = None
        if self.guest is None:
            self.guest = self._boot(self.plan.kernel(name))
            self.guest_kernel = name
        return self.guest

    def _boot(self, kernel: PlannedKernel) -> SystemUnderTest:
        self.boots += 1
        log = self.run_dir / "console" / kernel.name / f"{worker_id()}-boot{self.boots}.log"
        self.beacon.boot(kernel.name, log)
        guest = self.start_guest(self.plan, kernel, log)
        try:
            info = guest.boot()
            if self.plan.vm.swap_mb > 0 and info.swap_kb == 0:
                guest.kill()
                raise InfraError(
                    f"the guest of {kernel.name} has no swap ({info.swap_error}); see {log}",
                    "the kernel needs CONFIG_SWAP and a virtio disk driver "
                    "(built in, or in --modules)",
                    untestable=True,
                )
        except InfraError as e:
            self.beacon.boot_failed(kernel.name, e.one_line())
            self.broken[kernel.name] = e
            self.parts.add_infra(InfraRecord.of(kernel.name, "boot", e))
            raise
        self.beacon.ready(kernel.name, info.seconds)
        record = BootRecord.of(kernel.name, info, str(log.relative_to(self.run_dir)))
        self.parts.add_boot(record, worker_id(), self.boots)
        return guest

    def run(self, kernel: str, program: str) -> ProgramResult:
        result = self._attempt(kernel, program)
        if result.failed and self.plan.retry_failed:
            # Once more, in a fresh VM: a pass then is flaky, not clean.
            self.close()
            result = merge_retry(result, self._attempt(kernel, program))
        self.parts.add_program(result)
        statuses = [s.status.value for s in result.subtests]
        self.beacon.end(kernel, program, result.seconds, statuses, self.deciding(result))
        return result

    def _attempt(self, kernel: str, program: str) -> ProgramResult:
        guest = self._ensure_guest(kernel)
        self.beacon.start(kernel, program, float(self.plan.timeout))
        execution = guest.run(program, float(self.plan.timeout))
        version = self.plan.kernel(kernel).identity.version
        return evaluate(kernel, version, execution, self.expectations)

    def close(self, interrupted: bool = False) -> None:
        """Shut the VM down; after Ctrl-C or SIGTERM kill it at once (its test is still
        running and would not answer)."""
        if self.guest is not None:
            if interrupted:
                self.guest.kill()
            else:
                self.guest.shutdown()
            self.guest = None
