"""The gate: --baseline classes and exit status, --subtest, and --bisect's exit status;
on recorded real results and on the VM lifecycle's fake guest (no QEMU)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from junit_schema import validate as validate_junit
from test_lab import FAIL, PASS, lab_with, make_plan

from orchestrator import baseline
from orchestrator.assemble import assemble
from orchestrator.baseline import classify
from orchestrator.console import BootInfo, Execution
from orchestrator.errors import InfraError
from orchestrator.replay import read_console_log, replay_console
from orchestrator.report import RunReport, junit_xml, terminal_summary, write_reports
from orchestrator.run import ProgramResult, SubtestResult
from orchestrator.run import classify as classify_run
from orchestrator.status import Status
from orchestrator.verdict import EXIT_ENVIRONMENT, EXIT_UNTESTABLE

MATRIX = Path(__file__).parent / "fixtures" / "recorded" / "matrix"
BAD = ["fail", "crash", "timeout", "error", "xpass"]


@pytest.mark.parametrize(
    ("base", "now", "expected"),
    [
        *[(b, n, "unchanged") for b in ("pass", "xfail") for n in ("pass", "xfail")],
        *[(b, n, "regression") for b in ("pass", "xfail") for n in [*BAD, "skip"]],
        *[(b, n, "still failing") for b in BAD for n in [*BAD, "skip"]],
        *[("skip", n, "still failing") for n in BAD],
        ("skip", "skip", "unchanged"),
        *[(b, n, "fixed") for b in [*BAD, "skip"] for n in ("pass", "xfail")],
        *[(None, n, "new") for n in ("pass", "xfail", "skip")],
        *[(None, n, "new failure") for n in BAD],
        *[(b, None, "gone") for b in ("pass", "fail", "skip")],
    ],
)
def test_each_pair_of_statuses_has_its_class(
    base: str | None, now: str | None, expected: str
) -> None:
    got = classify(Status(base) if base else None, Status(now) if now else None)
    assert got == expected


def write_run(run_dir: Path, programs: list[ProgramResult], kernel: str = "k1") -> Path:
    """A results directory with these programs' results."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plan = make_plan(run_dir)
    k = plan.kernels[0]
    plan = replace(
        plan, kernels=[replace(k, name=kernel, identity=replace(k.identity, name=kernel))]
    )
    report = assemble(plan, 0)
    report.programs = programs
    write_reports(run_dir, report)
    return run_dir


def recorded(kernel: str, label: str) -> list[ProgramResult]:
    """The programs of the recorded real run of @kernel, labelled @label."""
    programs: list[ProgramResult] = []
    for log in sorted((MATRIX / kernel).glob("*.log")):
        _, executions = replay_console(read_console_log(log))
        programs += [classify_run(label, e) for e in executions]
    return programs


def test_bad_baselines_are_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"results": 3}')
    (tmp_path / "odd.json").write_text('{"run_id": "x", "kernels": [], "results": [{"a": 1}]}')
    for name, words in [
        ("missing", "does not exist"),
        ("empty", "holds no summary.json"),
        ("junk.json", "not JSON"),
        ("other.json", "no results list"),
        ("odd.json", "result 1 is not"),
    ]:
        with pytest.raises(InfraError, match=words) as err:
            baseline.load(tmp_path / name)
        assert "results directory of an earlier run" in err.value.fix


def test_real_runs_are_compared_whatever_their_labels(tmp_path: Path) -> None:
    """The recorded 6.1 run as the base of the recorded 7.2 run (one kernel each, labels
    differ): every subtest gets the class of its pair of statuses."""
    base = baseline.load(write_run(tmp_path / "base", recorded("debian-6.1", "six"), "six"))
    assert base.path.endswith("summary.json") and base.kernels == ("six",)
    now = recorded("debian-7.2", "seven")
    comparison = baseline.compare(base, ["seven"], now)
    assert comparison.matched == {"seven": "six"}
    for p in now:
        for s in p.subtests:
            before = base.statuses.get(("six", p.program, s.subtest))
            assert comparison.of("seven", p.program, s.subtest) == classify(before, s.status)
    total = sum(len(p.subtests) for p in now)
    assert sum(comparison.counts().values()) == total + len(comparison.gone)


def test_several_kernels_are_matched_by_label(tmp_path: Path) -> None:
    six, seven = recorded("debian-6.1", "a"), recorded("debian-7.2", "b")
    base = baseline.load(write_run(tmp_path / "base", six, "a"))
    comparison = baseline.compare(base, ["a", "b"], six + seven)
    assert comparison.matched == {"a": "a"}
    assert {comparison.of("b", p.program, s.subtest) for p in seven for s in p.subtests} <= {
        "new", "new failure"
    }  # fmt: skip
    assert not comparison.failed or any(
        comparison.of("b", p.program, s.subtest) == "new failure" for p in seven for s in p.subtests
    )


def gate(
    tmp_path: Path, base: dict[str, str] | None, script: str, **plan_fields: Any
) -> tuple[RunReport, list[str]]:
    """Run p1 on the fake guest, printing @script, against a base whose p1 had @base's
    statuses (no baseline when None).  The report, as the plugin assembles it, and what
    the suite's test failed with."""
    if base is not None:
        base_dir = write_run(
            tmp_path / "base",
            [
                ProgramResult(
                    "k1",
                    "p1",
                    "completed",
                    0,
                    1.0,
                    "",
                    [SubtestResult("k1", "p1", name, Status(st)) for name, st in base.items()],
                )
            ],
        )
        plan_fields["baseline"] = str(base_dir / "summary.json")
    run_dir = tmp_path / "now"
    run_dir.mkdir(parents=True)
    plan = replace(make_plan(run_dir), **plan_fields)
    lab, _ = lab_with(plan, [("ok", script)])
    deciding = lab.deciding(lab.run("k1", "p1"))
    lab.close()
    return assemble(plan, 1 if deciding else 0), deciding


def test_a_subtest_that_passed_on_the_base_and_fails_now_fails_the_gate(tmp_path: Path) -> None:
    report, deciding = gate(tmp_path, {"a": "pass", "b": "pass"}, FAIL)
    assert report.exit_status == 1
    assert deciding == ["regression b (fail): "]
    summary = report.to_json()
    assert summary["baseline"]["counts"]["regression"] == 1
    assert summary["baseline"]["run"] == "r"
    assert [(r["subtest"], r["baseline"]) for r in summary["results"]] == [
        ("a", "unchanged"), ("b", "regression"),
    ]  # fmt: skip
    lines = terminal_summary(report, tmp_path)
    assert any(ln.startswith("baseline r (") and "1 regression" in ln for ln in lines), lines
    assert "  REGRESSION: k1 p1: b: fail" in lines
    text = junit_xml(report)
    validate_junit(text)
    root = ET.fromstring(text)
    failure = root.find("testsuite/testcase[@name='b']/failure")
    assert failure is not None and (failure.get("message") or "").startswith("regression since r")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["baseline:a"] == "unchanged" and props["baseline:b"] == "regression"


def test_a_subtest_already_failing_on_the_base_does_not_fail_the_gate(tmp_path: Path) -> None:
    report, deciding = gate(tmp_path, {"a": "pass", "b": "fail"}, FAIL)
    assert (report.exit_status, deciding) == (0, [])
    assert report.to_json()["baseline"]["counts"]["still failing"] == 1


def test_gone_and_new_subtests(tmp_path: Path) -> None:
    report, deciding = gate(tmp_path, {"a": "pass", "c": "pass"}, PASS)
    assert report.exit_status == 1
    assert deciding == ["gone c: pass on r, no result now"]
    summary = report.to_json()["baseline"]
    assert summary["gone"] == [
        {"kernel": "k1", "program": "p1", "subtest": "c", "base_status": "pass"}
    ]
    assert summary["counts"]["new"] == 1 and summary["counts"]["gone"] == 1
    text = junit_xml(report)
    validate_junit(text)
    gone = ET.fromstring(text).find("testsuite/testcase[@name='c']/failure")
    assert gone is not None and gone.get("type") == "gone"


def test_a_skip_where_the_base_passed_is_a_regression(tmp_path: Path) -> None:
    skipped = "TAP version 13\n1..2\nok 1 a\nok 2 b # SKIP no swap\n"
    report, _ = gate(tmp_path, {"a": "pass", "b": "pass"}, skipped)
    assert report.exit_status == 1
    text = junit_xml(report)
    validate_junit(text)
    case = ET.fromstring(text).find("testsuite/testcase[@name='b']")
    assert case is not None and case.find("skipped") is None
    failure = case.find("failure")
    assert failure is not None and "skip: no swap" in (failure.get("message") or "")


def test_only_the_chosen_subtest_decides(tmp_path: Path) -> None:
    report, deciding = gate(tmp_path / "1", None, FAIL, subtests=["p1:a"])
    assert (report.exit_status, deciding) == (0, [])
    assert [s.status.value for p in report.programs for s in p.subtests] == ["pass", "fail"]
    assert "the verdict is decided by p1:a only" in terminal_summary(report, tmp_path)
    report, deciding = gate(tmp_path / "2", None, FAIL, subtests=["p1:b"])
    assert report.exit_status == 1 and deciding == ["fail b: "]


def test_a_subtest_the_program_does_not_have_is_an_error_of_the_command(tmp_path: Path) -> None:
    report, _ = gate(tmp_path / "1", None, PASS, subtests=["p1:zz"])
    assert report.exit_status == 2
    (error,) = report.infrastructure_errors
    assert "p1 has no subtest 'zz'" in error.cause and "a, b" in error.fix
    assert not error.untestable
    report, _ = gate(tmp_path / "2", None, PASS, subtests=["p1:zz"], bisect=True)
    assert report.exit_status == EXIT_ENVIRONMENT


@pytest.mark.parametrize(("script", "status"), [(PASS, 0), (FAIL, 1)])
def test_bisect_good_and_bad(tmp_path: Path, script: str, status: int) -> None:
    report, _ = gate(tmp_path, None, script, bisect=True)
    assert report.exit_status == status
    assert report.to_json()["config"]["bisect"] is True


def test_bisect_a_kernel_that_does_not_boot_is_untestable(tmp_path: Path) -> None:
    plan = replace(make_plan(tmp_path), bisect=True)
    lab, _ = lab_with(plan, [])
    lab.start_guest = lambda plan, kernel, log: NoBoot()
    with pytest.raises(InfraError):
        lab.run("k1", "p1")
    report = assemble(plan, 1)
    assert report.exit_status == EXIT_UNTESTABLE
    assert report.to_json()["infrastructure_errors"][0]["untestable"] is True


def test_bisect_an_error_of_the_environment_stops_it(tmp_path: Path) -> None:
    plan = replace(make_plan(tmp_path), bisect=True)
    assert assemble(plan, pytest.ExitCode.NO_TESTS_COLLECTED).exit_status == EXIT_ENVIRONMENT
    assert assemble(plan, pytest.ExitCode.INTERRUPTED).exit_status == EXIT_ENVIRONMENT
    lab, _ = lab_with(plan, [])  # the fake's boot failure is not the kernel's
    with pytest.raises(InfraError):
        lab.run("k1", "p1")
    assert assemble(plan, 1).exit_status == EXIT_ENVIRONMENT


def test_bisect_a_crash_before_the_chosen_subtest_is_untestable(tmp_path: Path) -> None:
    run_dir = tmp_path / "now"
    run_dir.mkdir(parents=True)
    plan = replace(make_plan(run_dir), bisect=True, subtests=["p1:b"])
    lab, _ = lab_with(plan, [("crash", "TAP version 13\n1..2\nok 1 a\n")])
    lab.run("k1", "p1")
    lab.close()
    report = assemble(plan, 1)
    assert report.exit_status == EXIT_UNTESTABLE, report.infrastructure_errors


class NoBoot:
    """A guest whose kernel does not boot, as QemuGuest reports it."""

    def boot(self) -> BootInfo:
        raise InfraError("kernel bzImage did not boot", "read the log", untestable=True)

    def run(self, program: str, timeout: float) -> Execution:
        raise AssertionError("not booted")

    def shutdown(self) -> str:
        return "not running"

    def kill(self) -> None:
        pass

    @property
    def alive(self) -> bool:
        return False
