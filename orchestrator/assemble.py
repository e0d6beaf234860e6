"""Report assembly: the plan and the part files of a run become one RunReport."""

from __future__ import annotations

import time
from pathlib import Path

from . import baseline, verdict
from .errors import InfraRecord
from .parts import BootRecord, Parts
from .plan import Plan
from .report import GuestFacts, KernelEntry, RunConfig, RunReport
from .run import ProgramResult


def _guest_facts(boots: list[BootRecord]) -> GuestFacts | None:
    if not boots:
        return None
    first = boots[0]
    # The guest of the run's --memory: a program sized otherwise (guestmem.py) may boot first.
    largest = max(boots, key=lambda b: b.mem_kb)
    return GuestFacts(
        uname_r=first.uname,
        mem_kb=largest.mem_kb,
        swap_kb=first.swap_kb,
        boots=len(boots),
        boot_seconds=[round(b.seconds, 2) for b in boots],
        booted_ahead=sum(b.ahead for b in boots),
    )


def console_logs(run_dir: Path, kernel: str) -> tuple[str, ...]:
    """Every console log of a kernel's guests, relative to the run directory: those that
    booted and those that did not (the log then says why)."""
    found = sorted((run_dir / "console" / kernel).glob("*.log"))
    return tuple(str(p.relative_to(run_dir)) for p in found)


def collect(plan: Plan, run_dir: Path) -> tuple[list[KernelEntry], list[ProgramResult]]:
    """The kernels of a run (with what their guests saw) and its program results in the
    plan's order, from the part files in run_dir (the plan's own, or a copy of it)."""
    parts = Parts(run_dir)
    programs = parts.programs()
    order = {(k.name, p): i for i, (k, p) in enumerate(
        (k, p) for k in plan.kernels for p in plan.programs)}  # fmt: skip
    programs.sort(key=lambda r: order.get((r.kernel, r.program), len(order)))
    boots = parts.boots()
    kernels = []
    for k in plan.kernels:
        mine = [b for b in boots if b.uname and b.kernel == k.name]
        # A fallback to pc shows in the boots: the last one says where the guests ran.
        last = mine[-1] if mine else None
        kernels.append(
            KernelEntry(
                identity=k.identity,
                accel=plan.vm.accel,
                guest=_guest_facts(mine),
                console=console_logs(run_dir, k.name),
                machine=last.machine if last else k.machine,
                machine_why=last.machine_why if last else k.machine_why,
            )
        )
    return kernels, programs


def run_config(plan: Plan) -> RunConfig:
    return RunConfig(
        vm=plan.vm, accel_why=plan.accel_why, qemu_version=plan.qemu_version,
        timeout=plan.timeout, programs=plan.programs, built=plan.built,
        expectations=plan.expectations, subtests=plan.subtests, bisect=plan.bisect,
        workers=plan.workers, parallel_why=plan.parallel_why,
        program_memory=plan.program_memory,
    )  # fmt: skip


def judge(
    kernels: list[str],
    programs: list[ProgramResult],
    infra: list[InfraRecord],
    pytest_status: int,
    base: str | None,
    subtests: list[str],
    bisect: bool,
) -> tuple[int, baseline.Comparison | None]:
    """The exit status of a run (or of a merge of runs) and its comparison with the
    baseline; a selected subtest that did not run is added to `infra`."""
    comparison = None
    if base is not None:
        comparison = baseline.compare(baseline.load(Path(base)), kernels, programs)
    for p in programs:
        infra += verdict.selection_problems(p, subtests, bisect)
    failed = any(verdict.deciding(p, comparison, subtests) for p in programs)
    status = verdict.exit_status(pytest_status, bool(infra), failed)
    if bisect:
        status = verdict.bisect_status(status, infra)
    return status, comparison


def assemble(plan: Plan, pytest_status: int) -> RunReport:
    """Everything the run's processes have written so far, in the plan's order."""
    run_dir = Path(plan.run_dir)
    kernels, programs = collect(plan, run_dir)
    infra = Parts(run_dir).infra()
    selection = verdict.selection_error(pytest_status)
    if selection is not None:
        infra.append(selection)
    names = [k.name for k in plan.kernels]
    status, comparison = judge(
        names, programs, infra, pytest_status, plan.baseline, plan.subtests, plan.bisect
    )
    return RunReport(
        run_id=plan.run_id,
        started=plan.started,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        complete=verdict.is_complete(pytest_status, bool(infra)),
        exit_status=status,
        baseline=comparison,
        config=run_config(plan),
        kernels=kernels,
        programs=programs,
        infrastructure_errors=infra,
    )
