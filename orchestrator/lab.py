"""The VM lifecycle and the retry policy of one process: it boots a guest per kernel (one
at a time), replaces a guest that died, retries a failed program once in a fresh VM when
asked, applies the expectations and writes a part file per result."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from . import ahead, baseline, expect, verdict
from .beacon import Beacon
from .boot import QemuGuest, SystemUnderTest
from .console import Execution
from .errors import BootCrash, InfraError, InfraRecord
from .machine import boot_verdict, proven_failure, remember_failure
from .oops import stale_breakpoint
from .parts import BootRecord, Parts
from .plan import Plan, PlannedKernel
from .run import ProgramResult, classify, merge_retry

# How long a microvm boot may take before -M pc is tried instead (a boot takes 1-3 s here
# under TCG, up to 15 s on a loaded host; a kernel that cannot find its disk on microvm says
# so after the init's 10 s).
MICROVM_TRIAL_TIMEOUT = 60.0
# Makes the system under test for a kernel, with its console log.
GuestFactory = Callable[[Plan, PlannedKernel, Path], SystemUnderTest]


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def qemu_guest(plan: Plan, kernel: PlannedKernel, console_log: Path) -> SystemUnderTest:
    cfg = plan.vm
    if kernel.can_fall_back:
        # A microvm boot that has not come up by now has failed, and -M pc is there to try.
        cfg = replace(cfg, boot_timeout=min(cfg.boot_timeout, MICROVM_TRIAL_TIMEOUT))
    image, initramfs = Path(kernel.kernel_file), Path(kernel.initramfs)
    early = ahead.adopt(cfg, kernel.machine, image, initramfs, "", console_log)
    if early is not None:
        return early
    return QemuGuest(cfg, image, initramfs, console_log, machine=kernel.machine)


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
        self.guest_log = ""  # the console log of the current guest, relative to the run
        self.guest_memory = 0
        self.boots = 0
        self.broken: dict[str, InfraError] = {}
        self.fallen_back: dict[str, PlannedKernel] = {}  # kernels whose microvm boot failed
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

    def _ensure_guest(self, name: str, memory_mb: int) -> SystemUnderTest:
        """A running guest of kernel @name with @memory_mb of RAM: the current one when it
        is that, else a fresh one."""
        if name in self.broken:
            raise self.broken[name]
        if self.guest is not None and (
            self.guest_kernel != name or self.guest_memory != memory_mb or not self.guest.alive
        ):
            self.guest.kill()
            self.guest = None
        if self.guest is None:
            self.guest = self._boot(self.plan.kernel(name), memory_mb)
            self.guest_kernel = name
            self.guest_memory = memory_mb
        return self.guest

    def _boot(self, kernel: PlannedKernel, memory_mb: int) -> SystemUnderTest:
        """A guest of @kernel, ready.  An automatic choice of microvm is proven by its boot:
        when that boot fails, -M pc is tried, and if pc boots, the microvm failure is kept
        for the host's boot (machine.remember_failure), so later runs start on pc."""
        kernel = self.fallen_back.get(kernel.name, kernel).for_memory(memory_mb)
        if kernel.can_fall_back and self.plan.cache:
            earlier = proven_failure(Path(self.plan.cache), kernel.identity.image_sha256)
            if earlier:  # another worker of this run found it out meanwhile
                kernel = self._fall_back(kernel, earlier)
        if kernel.can_fall_back:
            try:
                return self._start_past_a_glitch(kernel, memory_mb)
            except InfraError as e:
                failure = e.cause
                # A kernel that oopsed proves nothing lasting about the machine type: pc
                # for this process, microvm again for the next.
                lasting = not isinstance(e, BootCrash)
            kernel = self._fall_back(kernel, failure)
            guest = self._boot_or_break(kernel, memory_mb)
            if self.plan.cache and lasting:
                remember_failure(Path(self.plan.cache), kernel.identity.image_sha256, failure)
            return guest
        return self._boot_or_break(kernel, memory_mb)

    def _fall_back(self, kernel: PlannedKernel, failure: str) -> PlannedKernel:
        pc = kernel.on_pc(f"-M pc: a microvm boot of this kernel failed on this host boot: "
                          f"{failure}")  # fmt: skip
        self.fallen_back[kernel.name] = pc
        return pc

    def _emulator_glitch(self, stale: bool) -> bool:
        """Whether a crash showing a stale breakpoint (oops.stale_breakpoint) is the
        emulator's: under TCG with more than one vCPU.  On KVM the CPU is real, and with one
        vCPU TCG sees each code write at once: there the crash is the kernel's."""
        return stale and self.plan.vm.accel == "tcg" and self.plan.vm.smp > 1

    def _start_past_a_glitch(self, kernel: PlannedKernel, memory_mb: int) -> SystemUnderTest:
        """_start; a boot that crashed on the emulator's stale breakpoint is tried once more."""
        try:
            return self._start(kernel, memory_mb)
        except BootCrash as e:
            if not self._emulator_glitch(e.stale_breakpoint):
                raise
        return self._start(kernel, memory_mb)

    def _boot_or_break(self, kernel: PlannedKernel, memory_mb: int) -> SystemUnderTest:
        """_start, and when the guest does not come up, the kernel is broken for this run."""
        try:
            return self._start_past_a_glitch(kernel, memory_mb)
        except InfraError as e:
            self.beacon.boot_failed(kernel.name, e.one_line())
            self.broken[kernel.name] = e
            self.parts.add_infra(InfraRecord.of(kernel.name, "boot", e))
            raise

    def _start(self, kernel: PlannedKernel, memory_mb: int) -> SystemUnderTest:
        self.boots += 1
        log = self.run_dir / "console" / kernel.name / f"{worker_id()}-boot{self.boots}.log"
        plan = self.plan
        lean = kernel.lean_at(memory_mb)
        if (memory_mb, lean) != (plan.vm.memory_mb, plan.vm.lean):
            plan = replace(plan, vm=replace(plan.vm, memory_mb=memory_mb, lean=lean))
        self.beacon.boot(kernel.name, log)
        guest = self.start_guest(plan, kernel, log)
        info = guest.boot()
        swap_wanted = self.plan.vm.swap_mb > 0
        if kernel.machine == "microvm":
            failure = boot_verdict(swap_wanted, info.swap_kb, info.swap_error)
            if failure is not None:
                guest.kill()
                raise InfraError(f"{failure}; see {log}", "boot it with --machine pc")
        if swap_wanted and info.swap_kb == 0:
            guest.kill()
            raise InfraError(
                f"the guest of {kernel.name} has no swap ({info.swap_error}); see {log}",
                "the kernel needs CONFIG_SWAP and a virtio disk driver (built in, or in --modules)",
                untestable=True,
            )
        if self.boots == 1:
            ahead.remember(guest)  # the next run of the same command boots it ahead
        self.beacon.ready(kernel.name, info.seconds)
        self.guest_log = str(log.relative_to(self.run_dir))
        early = bool(getattr(guest, "booted_ahead", False))
        record = BootRecord.of(kernel.name, info, self.guest_log, kernel.machine,
                               kernel.machine_why, early)  # fmt: skip
        self.parts.add_boot(record, worker_id(), self.boots)
        return guest

    def run(self, kernel: str, program: str) -> ProgramResult:
        logs: list[str] = []
        execution = self._execute(kernel, program, logs)
        first = ""
        if self._glitched(execution):
            # The guest crashed on the emulator's stale breakpoint: the program's results
            # say nothing of the kernel.  Once more, in a fresh VM (the crashed one is gone).
            first = f"{program}: {execution.detail}"
            execution = self._execute(kernel, program, logs)
            if self._glitched(execution):
                error = InfraError(
                    f"{program} crashed the guest of {kernel} twice on QEMU's stale breakpoint "
                    f"(TCG with {self.plan.vm.smp} vCPUs runs code the kernel had patched): "
                    f"{execution.detail}; see {self.run_dir / self.guest_log}",
                    "run with --smp 1, or on KVM",
                )
                self.parts.add_infra(InfraRecord.of(kernel, "run", error))
                raise error
        result = self._evaluate(kernel, execution)
        if first:
            result.detail = "; ".join(x for x in (result.detail, f"run again after {first}") if x)
        if result.failed and self.plan.retry_failed:
            # Once more, in a fresh VM: a pass then is flaky, not clean.
            self.close()
            retry = self._evaluate(kernel, self._execute(kernel, program, logs))
            result = merge_retry(result, retry)
        result.console = list(dict.fromkeys(logs))
        self.parts.add_program(result)
        statuses = [s.status.value for s in result.subtests]
        self.beacon.end(kernel, program, result.seconds, statuses, self.deciding(result))
        return result

    def _execute(self, kernel: str, program: str, logs: list[str]) -> Execution:
        """Run @program in a guest of @kernel (a fresh one after a crash or a hang); the
        guest's console log goes to @logs."""
        guest = self._ensure_guest(kernel, self.plan.memory_for(program))
        self.beacon.start(kernel, program, float(self.plan.timeout))
        execution = guest.run(program, float(self.plan.timeout))
        logs.append(self.guest_log)
        return execution

    def _glitched(self, execution: Execution) -> bool:
        """Whether @execution crashed on the emulator's stale breakpoint."""
        return execution.outcome == "crash" and self._emulator_glitch(
            stale_breakpoint(execution.output)
        )

    def _evaluate(self, kernel: str, execution: Execution) -> ProgramResult:
        version = self.plan.kernel(kernel).identity.version
        return evaluate(kernel, version, execution, self.expectations)

    def close(self) -> None:
        """End the VM at once.  A guest is scratch (its disk too) with nothing left to
        say once its last program has ended, so a clean power-off would only be waited
        for; after Ctrl-C or SIGTERM its test is still running and would not answer."""
        if self.guest is not None:
            self.guest.kill()
            self.guest = None
