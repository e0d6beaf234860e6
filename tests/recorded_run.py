"""Run directories made from recorded console logs, without QEMU: each log is copied to the
run's console/, replayed (`replay_console`), evaluated and written as part files the way
a live run's Lab does, then assembled and reported by the run's own code.  The HTML report
and the merge are tested on them.

`matrix_run` replays the four-kernel recording (tests/fixtures/recorded/matrix) and the
6.1 fault recordings, so that every status a real run can give is there:
- debian-6.1: as recorded, with its expectations (pass, skip, xfail);
- debian-6.12: with no expectations (the two known SEEK_DATA/SEEK_HOLE bugs are fail);
- debian-7.2: as recorded, but its shmem_lseek with no expectations (fail) and then as if
  a retry in a fresh VM had passed (7.3's recorded run of it): flaky;
- debian-7.3: evaluated as if its version were 7.2.13, so the expectations that stop
  before 7.3-rc7 cover its two passes: xpass;
- faults-6.1: the fault programs (a panic: crash; a WARN: error kernel_taint; a hang,
  its outcome set to the timeout the live console recorded it as: timeout).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator import expect
from orchestrator.assemble import assemble
from orchestrator.errors import InfraRecord
from orchestrator.kernel import ImageSource, KernelIdentity
from orchestrator.lab import evaluate
from orchestrator.parts import BootRecord, Parts
from orchestrator.plan import Built, Plan, PlannedKernel
from orchestrator.qemu import VmConfig
from orchestrator.replay import read_console_log, replay_console
from orchestrator.report import write_reports
from orchestrator.run import ProgramResult, merge_retry

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
MATRIX = RECORDED / "matrix"
MATRIX_SUMMARY: dict[str, Any] = json.loads((MATRIX / "summary.json").read_text())
VERSIONS = {k["name"]: k["version"] for k in MATRIX_SUMMARY["kernels"]}
# One program order for every kernel, as a live run's plan has it (the build's).
PROGRAMS = list(MATRIX_SUMMARY["kernels"][0]["programs"])
FAULT_LOGS = [RECORDED / "debian-6.1-panic-console.log", RECORDED / "debian-6.1-hang-console.log"]


def _identity(name: str, version: str) -> KernelIdentity:
    image = f"/recorded/{name}/vmlinuz"
    return KernelIdentity(
        name, image, "0" * 64, f"recorded {name}", ImageSource(image), version=version
    )


def _replay(
    run_dir: Path | None,
    kernel: str,
    version: str,
    logs: list[Path],
    rules: list[expect.Expectation],
) -> list[ProgramResult]:
    """Each log as one boot of the kernel: replayed and evaluated; with a run_dir also
    copied to its console/ and recorded as a boot part file."""
    results = []
    for number, log in enumerate(logs, 1):
        name = f"console/{kernel}/{log.name}"
        boot, executions = replay_console(read_console_log(log))
        assert boot is not None, log
        if run_dir is not None:
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, run_dir / name)
            Parts(run_dir).add_boot(BootRecord.of(kernel, boot, name), "replay", number)
        for execution in executions:
            if execution.program == "fault_hang":
                # The live console recorded this one as a timeout (its SysRq shows it).
                execution = replace(execution, outcome="timeout", detail="no result in 30 s")
            result = evaluate(kernel, version, execution, rules)
            result.console = [name]
            results.append(result)
    return results


def _lseek(programs: list[ProgramResult]) -> ProgramResult:
    return next(p for p in programs if p.program == "shmem_lseek")


def make_plan(run_dir: Path, run_id: str, kernels: dict[str, str], programs: list[str]) -> Plan:
    return Plan(
        run_id=run_id, run_dir=str(run_dir), results_root=str(run_dir.parent),
        started="2026-12-03T02:09:08+0000", vm=VmConfig(), accel_why="recorded",
        qemu_version="QEMU (recorded)", timeout=180, programs=programs,
        kernels=[PlannedKernel(n, f"/recorded/{n}/vmlinuz", "/recorded/initramfs",
                               _identity(n, v)) for n, v in kernels.items()],
        built=Built(False, False), expectations=str(MATRIX / "expectations.toml"),
        retry_failed=False,
    )  # fmt: skip


def _finish(plan: Plan, programs: list[ProgramResult]) -> Path:
    run_dir = Path(plan.run_dir)
    parts = Parts(run_dir)
    for result in programs:
        parts.add_program(result)
    status = pytest.ExitCode.TESTS_FAILED if any(p.failed for p in programs) else 0
    report = assemble(plan, status)
    write_reports(run_dir, report)
    return run_dir


def recorded_run(root: Path, run_id: str, kernels: dict[str, bool]) -> Path:
    """Recorded kernels of the matrix (name -> with expectations or not) as one run, made
    the way a run over exactly those kernels makes it; one kernel is one Jenkins agent's."""
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    rules = expect.load(MATRIX / "expectations.toml")
    programs = []
    for kernel, expectations in kernels.items():
        logs = sorted((MATRIX / kernel).glob("*.log"))
        programs += _replay(run_dir, kernel, VERSIONS[kernel], logs, rules if expectations else [])
    names = list(dict.fromkeys(PROGRAMS + [p.program for p in programs]))
    plan = make_plan(run_dir, run_id, {k: VERSIONS[k] for k in kernels}, names)
    plan.save(run_dir / "plan.json")
    return _finish(plan, programs)


def matrix_run(root: Path, faults: bool = True, infrastructure: bool = False) -> Path:
    """The four Debian kernels with every status but crash, timeout and error (see the
    module's doc); with faults=True also the fault programs' kernel (those three); with
    infrastructure=True a kernel whose guest did not boot, as Lab records it."""
    run_dir = root / "20261203-020908-rec1"
    run_dir.mkdir(parents=True)
    rules = expect.load(MATRIX / "expectations.toml")
    logs = {k: sorted((MATRIX / k).glob("*.log")) for k in VERSIONS}
    v = VERSIONS
    programs = _replay(run_dir, "debian-6.1", v["debian-6.1"], logs["debian-6.1"], rules)
    programs += _replay(run_dir, "debian-6.12", v["debian-6.12"], logs["debian-6.12"], [])
    # 7.3's recorded shmem_lseek, all passes, stands in for a retry of 7.2's in a fresh VM.
    retry = _lseek(_replay(None, "debian-7.2", v["debian-7.2"], logs["debian-7.3"], []))
    first = _lseek(_replay(None, "debian-7.2", v["debian-7.2"], logs["debian-7.2"], []))
    programs += [
        merge_retry(first, retry) if p.program == "shmem_lseek" else p
        for p in _replay(run_dir, "debian-7.2", v["debian-7.2"], logs["debian-7.2"], rules)
    ]
    programs += _replay(run_dir, "debian-7.3", "7.2.13", logs["debian-7.3"], rules)
    kernels = {"debian-6.1": v["debian-6.1"], "debian-6.12": v["debian-6.12"],
               "debian-7.2": v["debian-7.2"], "debian-7.3": "7.2.13"}  # fmt: skip
    if faults:
        programs += _replay(run_dir, "faults-6.1", "6.1.192", FAULT_LOGS, rules)
        kernels["faults-6.1"] = "6.1.192"
    if infrastructure:
        kernels["broken-7.3"] = "7.3"
        cause = (
            "kernel vmlinuz did not boot: QEMU exited (last console line: 'Kernel panic - "
            "not syncing: VFS: Unable to mount root fs')"
        )
        fix = (
            "read console/broken-7.3/main-boot1.log; check that the image boots on x86 "
            "with console=ttyS0, or raise --boot-timeout"
        )
        Parts(run_dir).add_infra(InfraRecord("broken-7.3", "boot", cause, fix))
    names = list(dict.fromkeys(PROGRAMS + [p.program for p in programs]))
    plan = make_plan(run_dir, run_dir.name, kernels, names)
    plan.save(run_dir / "plan.json")
    return _finish(plan, programs)
