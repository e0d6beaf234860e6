"""The VM lifecycle, the retry policy, part files and report assembly, on a fake
SystemUnderTest: no QEMU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.assemble import assemble
from orchestrator.boot import SystemUnderTest
from orchestrator.console import BootInfo, Execution
from orchestrator.errors import InfraError
from orchestrator.kernel import ImageSource, KernelIdentity
from orchestrator.lab import Lab
from orchestrator.parts import Parts
from orchestrator.plan import Built, Plan, PlannedKernel
from orchestrator.qemu import VmConfig
from orchestrator.verdict import EXIT_FAILED, EXIT_INFRA, EXIT_OK

PASS = "TAP version 13\n1..2\nok 1 a\nok 2 b\n"
FAIL = "TAP version 13\n1..2\nok 1 a\nnot ok 2 b\n"


class FakeGuest:
    """Plays back scripted executions; `crash` ends the guest as a real one would."""

    def __init__(self, log: Path, script: list[tuple[str, str]], events: list[str]) -> None:
        self.log = log
        self.script = script
        self.events = events
        self.up = False

    def boot(self) -> BootInfo:
        if not self.script:
            raise InfraError("no boot", "fix it")
        self.up = True
        self.events.append(f"boot {self.log.name}")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text("console\n")  # as QemuGuest's console does
        return BootInfo("6.1.0-test", 200000, 524284, "none", 2, 0, 1.5)

    def run(self, program: str, timeout: float) -> Execution:
        outcome, tap = self.script.pop(0)
        self.events.append(f"run {program} {outcome}")
        if outcome == "crash":
            self.up = False
            return Execution(program, "crash", None, tap, 1.0, detail="guest died")
        return Execution(program, "completed", 0 if tap == PASS else 1, tap, 1.0, 0, 0)

    def shutdown(self) -> str:
        self.events.append("shutdown")
        self.up = False
        return "exited"

    def kill(self) -> None:
        self.events.append("kill")
        self.up = False

    @property
    def alive(self) -> bool:
        return self.up


def make_plan(tmp_path: Path, retry: bool = False) -> Plan:
    identity = KernelIdentity(
        "k1", "/k1", "0" * 64, "6.1.0-test #1", ImageSource("/k1"), version="6.1.0"
    )
    return Plan(
        run_id="r", run_dir=str(tmp_path), results_root=str(tmp_path.parent), started="s",
        vm=VmConfig(), accel_why="forced", qemu_version="QEMU", timeout=10,
        programs=["p1", "p2"], kernels=[PlannedKernel("k1", "/k1", "/i1", identity)],
        built=Built(False, False), expectations=None, retry_failed=retry,
    )  # fmt: skip


def lab_with(plan: Plan, script: list[tuple[str, str]]) -> tuple[Lab, list[str]]:
    events: list[str] = []

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        return FakeGuest(log, script, events)

    return Lab(plan, start), events


def test_a_crash_costs_a_fresh_guest_and_boots_are_recorded(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    lab, events = lab_with(plan, [("crash", "TAP version 13\n1..2\nok 1 a\n"), ("ok", PASS)])
    assert lab.run("k1", "p1").failed
    assert not lab.run("k1", "p2").failed
    lab.close()
    assert events == [
        "boot main-boot1.log", "run p1 crash", "shutdown", "boot main-boot2.log",
        "run p2 ok", "shutdown",
    ]  # fmt: skip
    boots = Parts(tmp_path).boots()
    assert [(b.kernel, b.console_log) for b in boots] == [
        ("k1", "console/k1/main-boot1.log"),
        ("k1", "console/k1/main-boot2.log"),
    ]
    report = assemble(plan, 1)
    assert report.exit_status == EXIT_FAILED and report.complete
    entry = report.to_json()["kernels"][0]
    assert entry["boots"] == 2 and entry["uname_r"] == "6.1.0-test"
    assert entry["kind"] == "image" and entry["version"] == "6.1.0"
    assert entry["console"] == ["console/k1/main-boot1.log", "console/k1/main-boot2.log"]
    ran_in = {p["program"]: p["console"] for p in report.to_json()["programs"]}
    assert ran_in == {"p1": ["console/k1/main-boot1.log"], "p2": ["console/k1/main-boot2.log"]}


def test_retry_passing_is_flaky(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, retry=True)
    lab, events = lab_with(plan, [("ok", FAIL), ("ok", PASS)])
    result = lab.run("k1", "p1")
    assert [(s.subtest, s.status.value, s.flaky) for s in result.subtests] == [
        ("a", "pass", False),
        ("b", "pass", True),
    ]
    assert events[:3] == ["boot main-boot1.log", "run p1 ok", "shutdown"], "a fresh VM"
    assert result.console == ["console/k1/main-boot1.log", "console/k1/main-boot2.log"]
    saved = json.loads((tmp_path / "parts" / "programs" / "k1--p1.json").read_text())
    assert saved["subtests"][1]["flaky"] is True


def test_a_guest_that_does_not_boot_is_an_infrastructure_error_once(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    lab, events = lab_with(plan, [])
    for program in ("p1", "p2"):
        with pytest.raises(InfraError):
            lab.run("k1", program)
    assert [r.step for r in Parts(tmp_path).infra()] == ["boot"]
    assert events == [], "the second program does not try to boot again"
    report = assemble(plan, 1)
    assert report.exit_status == EXIT_INFRA and not report.complete
    assert report.to_json()["infrastructure_errors"] == [
        {"kernel": "k1", "step": "boot", "cause": "no boot", "fix": "fix it", "untestable": False}
    ]


def test_interrupted_close_kills_and_an_interrupted_run_exits_2(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    lab, events = lab_with(plan, [("ok", PASS), ("ok", PASS)])
    lab.run("k1", "p1")
    lab.close(interrupted=True)
    assert events[-1] == "kill"
    report = assemble(plan, 2)  # pytest.ExitCode.INTERRUPTED
    assert report.exit_status == EXIT_INFRA and not report.complete
    assert assemble(plan, 0).exit_status == EXIT_OK
