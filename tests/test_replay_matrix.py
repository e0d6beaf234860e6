"""Replay the console logs of a real four-kernel run (Debian 6.1, 6.12, 7.2 and 7.3-rc7,
every program) through the code the live run uses: console replay, classify, the
expectations.  Every (program, subtest) must get the status that run's summary.json
recorded.  tests/fixtures/recorded/matrix holds the logs as recorded, the expectations
the run used, and the part of its summary.json this checks."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from orchestrator import expect
from orchestrator.lab import evaluate
from orchestrator.replay import read_console_log, replay_console
from orchestrator.run import ProgramResult

MATRIX = Path(__file__).parent / "fixtures" / "recorded" / "matrix"
RECORDED: dict[str, Any] = json.loads((MATRIX / "summary.json").read_text())
KERNELS: dict[str, dict[str, Any]] = {k["name"]: k for k in RECORDED["kernels"]}
CASES = [(k, p) for k, entry in KERNELS.items() for p in entry["programs"]]


@cache
def replayed(kernel: str) -> dict[str, ProgramResult]:
    rules = expect.load(MATRIX / "expectations.toml")
    version = KERNELS[kernel]["version"]
    results: dict[str, ProgramResult] = {}
    for log in sorted((MATRIX / kernel).glob("*.log")):
        _, executions = replay_console(read_console_log(log))
        for execution in executions:
            assert execution.program not in results, f"{execution.program} ran twice"
            results[execution.program] = evaluate(kernel, version, execution, rules)
    return results


def test_the_recording_covers_every_program_on_four_kernels() -> None:
    assert sorted(KERNELS) == ["debian-6.1", "debian-6.12", "debian-7.2", "debian-7.3"]
    programs = {frozenset(entry["programs"]) for entry in KERNELS.values()}
    assert len(programs) == 1 and len(next(iter(programs))) == 7
    for kernel, entry in KERNELS.items():
        assert set(replayed(kernel)) == set(entry["programs"]), kernel


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_each_boot_shows_the_recorded_guest(kernel: str) -> None:
    for log in sorted((MATRIX / kernel).glob("*.log")):
        boot, _ = replay_console(read_console_log(log))
        assert boot is not None, log
        assert boot.uname == KERNELS[kernel]["uname_r"]
        assert boot.swap_kb == KERNELS[kernel]["swap_kb"]


@pytest.mark.parametrize(("kernel", "program"), CASES, ids=[f"{k}:{p}" for k, p in CASES])
def test_replay_gives_the_recorded_statuses(kernel: str, program: str) -> None:
    recorded = [(subtest, status) for subtest, status, _ in KERNELS[kernel]["programs"][program]]
    result = replayed(kernel)[program]
    assert result.outcome == "completed"
    assert [(s.subtest, s.status.value) for s in result.subtests] == recorded
