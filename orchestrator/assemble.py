"""Report assembly: the plan and the part files of a run become one RunReport."""

from __future__ import annotations

import time
from pathlib import Path

from . import verdict
from .parts import BootRecord, Parts
from .plan import Plan
from .report import GuestFacts, KernelEntry, RunConfig, RunReport


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
    )


def assemble(plan: Plan, pytest_status: int) -> RunReport:
    """Everything the run's processes have written so far, in the plan's order."""
    parts = Parts(Path(plan.run_dir))
    programs = parts.programs()
    order = {(k.name, p): i for i, (k, p) in enumerate(
        (k, p) for k in plan.kernels for p in plan.programs)}  # fmt: skip
    programs.sort(key=lambda r: order.get((r.kernel, r.program), len(order)))
    boots = parts.boots()
    infra = parts.infra()
    selection = verdict.selection_error(pytest_status)
    if selection is not None:
        infra.append(selection)
    kernels = []
    for k in plan.kernels:
        mine = [b for b in boots if b.uname and b.kernel == k.name]
        # A fallback to pc shows in the boots: the last one says where the guests ran.
        last = mine[-1] if mine else None
        entry = KernelEntry(
            identity=k.identity,
            accel=plan.vm.accel,
            guest=_guest_facts(mine),
            machine=last.machine if last else k.machine,
            machine_why=last.machine_why if last else k.machine_why,
        )
        kernels.append(entry)
    config = RunConfig(
        vm=plan.vm, accel_why=plan.accel_why, qemu_version=plan.qemu_version,
        timeout=plan.timeout, programs=plan.programs, built=plan.built,
        expectations=plan.expectations, workers=plan.workers,
        parallel_why=plan.parallel_why, program_memory=plan.program_memory,
    )  # fmt: skip
    failed = any(p.failed for p in programs)
    return RunReport(
        run_id=plan.run_id,
        started=plan.started,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        complete=verdict.is_complete(pytest_status, bool(infra)),
        exit_status=verdict.exit_status(pytest_status, bool(infra), failed),
        config=config,
        kernels=kernels,
        programs=programs,
        infrastructure_errors=infra,
    )
