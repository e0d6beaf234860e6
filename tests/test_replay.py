"""Replay a console log recorded from a real run (Debian 6.1 under QEMU/TCG)."""

from __future__ import annotations

from pathlib import Path

from orchestrator import ktap
from orchestrator.replay import read_console_log, replay_console
from orchestrator.run import classify
from orchestrator.status import Status

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
CONSOLE = read_console_log(RECORDED / "debian-6.1-console.log")


def test_boot_line_gives_the_guest_facts() -> None:
    boot, _ = replay_console(CONSOLE)
    assert boot is not None
    assert boot.uname == "6.1.0-56-cloud-amd64"
    assert boot.swap_kb == 524284
    assert boot.swap_error == "none"
    assert boot.nproc == 2


def test_each_program_is_framed_and_parsed() -> None:
    _, executions = replay_console(CONSOLE)
    assert [e.program for e in executions] == ["shmem_lseek", "madv_populate"]
    for execution in executions:
        assert execution.outcome == "completed"
        assert execution.exit_code == 0
        result = classify("debian-6.1", execution)
        saved = ktap.parse((RECORDED / f"{execution.program}.tap").read_text())
        assert saved.plan is not None
        assert len(result.subtests) == saved.plan
        assert not result.failed
        assert all(s.status in (Status.PASS, Status.SKIP) for s in result.subtests)
        assert "<<<residency" not in execution.output


def test_console_cut_mid_program_reports_the_rest_as_crashed() -> None:
    cut = CONSOLE.index("\nok 10 ", CONSOLE.index("madv_populate>>>"))
    _, executions = replay_console(CONSOLE[:cut])
    last = executions[-1]
    assert last.program == "madv_populate"
    assert last.outcome == "crash"
    result = classify("debian-6.1", last)
    crashed = [s for s in result.subtests if s.status is Status.CRASH]
    passed = [s for s in result.subtests if s.status is Status.PASS]
    doc = ktap.parse(last.output)
    assert doc.plan is not None
    assert len(passed) == 9
    assert len(crashed) == doc.plan - 9
    assert result.failed
