"""junit.xml and summary.json: shape, Jenkins schema, atomic files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junit_schema import SCHEMA, SHARED
from junit_schema import validate as validate_junit

from orchestrator.errors import InfraRecord
from orchestrator.kernel import ImageSource, KernelIdentity
from orchestrator.plan import Built
from orchestrator.qemu import VmConfig
from orchestrator.report import (
    GuestFacts,
    KernelEntry,
    RunConfig,
    RunReport,
    junit_xml,
    point_latest,
    terminal_summary,
    write_reports,
)
from orchestrator.run import ProgramResult, SubtestResult
from orchestrator.status import Status

TAP = "TAP version 13\n1..3\nok 1 data_found\nnot ok 2 hole_found\nok 3 swapped # SKIP no swap\n"


def sample_report() -> RunReport:
    subtests = [
        SubtestResult("debian-6.1.0-56-cloud-amd64", "shmem_lseek", "data_found", Status.PASS),
        SubtestResult(
            "debian-6.1.0-56-cloud-amd64",
            "shmem_lseek",
            "hole_found",
            Status.FAIL,
            "",
            ["SEEK_HOLE returned 0x1000, expected 0x2000"],
        ),
        SubtestResult(
            "debian-6.1.0-56-cloud-amd64", "shmem_lseek", "swapped", Status.SKIP, "no swap"
        ),
        SubtestResult("debian-6.1.0-56-cloud-amd64", "shmem_lseek", "x", Status.XFAIL, "known bug"),
        SubtestResult(
            "debian-6.1.0-56-cloud-amd64", "shmem_lseek", "test_5", Status.CRASH, "guest died"
        ),
        SubtestResult(
            "debian-6.1.0-56-cloud-amd64", "shmem_lseek", "test_6", Status.TIMEOUT, "after 45s"
        ),
    ]
    program = ProgramResult(
        "debian-6.1.0-56-cloud-amd64", "shmem_lseek", "crash", None, 12.3456789, TAP, subtests
    )
    identity = KernelIdentity(
        "debian-6.1.0-56-cloud-amd64", "/boot/vmlinuz", "0" * 64, "6.1.0-56-cloud-amd64 #1",
        ImageSource("/boot/vmlinuz"),
    )  # fmt: skip
    guest = GuestFacts("6.1.0-56-cloud-amd64", 223376, 524284, 1, [4.5])
    config = RunConfig(
        VmConfig(), "forced", "QEMU 7.2", 45, ["shmem_lseek"], Built(True, True), None
    )
    return RunReport(
        run_id="r1", started="s", finished="f", complete=True, exit_status=1,
        config=config, kernels=[KernelEntry(identity, "tcg", guest)], programs=[program],
        infrastructure_errors=[InfraRecord("other", "boot", "c", "f")],
    )  # fmt: skip


def test_junit_validates_against_the_jenkins_schema() -> None:
    validate_junit(junit_xml(sample_report()))


def test_the_schema_is_the_xunit_plugins() -> None:
    if not SHARED.is_file():
        pytest.skip(f"{SHARED} is not on this machine (a clean clone)")
    assert SCHEMA.read_bytes() == SHARED.read_bytes()


def test_the_schema_rejects_what_the_xunit_plugin_rejects() -> None:
    text = junit_xml(sample_report())
    with pytest.raises(AssertionError, match="disabled"):
        validate_junit(text.replace("<testsuite ", '<testsuite disabled="0" ', 1))
    with pytest.raises(AssertionError, match="time"):
        validate_junit(text.replace('time="12.346"', 'time="12.3456"', 1))


def test_junit_maps_each_status() -> None:
    root = ET.fromstring(junit_xml(sample_report()))
    suites = root.findall("testsuite")
    assert [(s.get("package"), s.get("name")) for s in suites] == [
        ("debian-6.1.0-56-cloud-amd64", "shmem_lseek"),
        ("other", "infrastructure"),
    ]
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert {c.get("classname") for c in cases.values()} == {
        "debian-6.1.0-56-cloud-amd64.shmem_lseek"
    }
    assert cases["data_found"].find("failure") is None
    failure = cases["hole_found"].find("failure")
    assert failure is not None and "SEEK_HOLE returned 0x1000" in (failure.text or "")
    skipped = cases["swapped"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no swap"
    xfail = cases["x"].find("skipped")
    assert xfail is not None and "expected failure" in (xfail.get("message") or "")
    crash = cases["test_5"].find("error")
    assert crash is not None and crash.get("type") == "crash"
    timeout = cases["test_6"].find("error")
    assert timeout is not None and timeout.get("type") == "timeout"
    assert suites[0].get("failures") == "1" and suites[0].get("errors") == "2"
    assert suites[0].get("skipped") == "2" and suites[0].get("tests") == "6"
    assert suites[0].get("time") == "12.346", "the program's run time, three decimals"
    infra = suites[1].find("testcase/error")
    assert infra is not None and infra.get("type") == "infrastructure"


def test_summary_and_tap_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    write_reports(run_dir, sample_report())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["kernels"][0]["swap_kb"] == 524284
    assert summary["kernels"][0]["counts"]["fail"] == 1
    assert summary["kernels"][0]["results"][0]["subtest"] == "data_found"
    first = summary["results"][0]
    assert first == {
        "kernel": "debian-6.1.0-56-cloud-amd64", "program": "shmem_lseek",
        "subtest": "data_found", "status": "pass", "reason": "", "diagnostics": [],
        "flaky": False, "seconds": 0.0,
    }  # fmt: skip
    failed = summary["results"][1]
    assert failed["diagnostics"] == ["SEEK_HOLE returned 0x1000, expected 0x2000"]
    assert "diagnostics" not in summary["kernels"][0]["results"][1], "only once per result"
    assert {r["status"] for r in summary["results"]} <= {
        "pass", "fail", "skip", "xfail", "xpass", "crash", "timeout", "error"
    }  # fmt: skip
    assert summary["counts"]["fail"] == 1
    tap = run_dir / "tap" / "debian-6.1.0-56-cloud-amd64" / "shmem_lseek.tap"
    assert tap.read_text() == TAP
    assert "hole_found" in (run_dir / "report.html").read_text()
    assert not [p for p in run_dir.rglob(".*") if p.is_file()], "no temporary files left"
    point_latest(tmp_path, run_dir)
    assert (tmp_path / "latest" / "summary.json").is_file()


def test_flaky_subtests_carry_a_flaky_failure() -> None:
    report = sample_report()
    report.programs[0].subtests[0].flaky = True
    report.programs[0].subtests[0].reason = "passed on retry in a fresh VM; first attempt fail"
    text = junit_xml(report)
    validate_junit(text)
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    case = suite.find("testcase[@name='data_found']")
    assert case is not None
    flaky = case.find("flakyFailure")
    assert flaky is not None and "first attempt fail" in (flaky.get("message") or "")
    # What Jenkins' UI shows: the case's own output, and a property of its suite.
    out = case.find("system-out")
    assert out is not None and (out.text or "").startswith("FLAKY: passed on retry")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["flaky:data_found"] == report.programs[0].subtests[0].reason
    assert report.counts()["flaky"] == 1


def test_skips_are_counted_by_reason_everywhere(tmp_path: Path) -> None:
    report = sample_report()
    program = report.programs[0]
    program.subtests.append(
        SubtestResult(program.kernel, program.program, "swapped_2", Status.SKIP, "no swap")
    )
    kernel = report.to_json()["kernels"][0]
    assert kernel["skips"] == [
        {
            "reason": "no swap",
            "count": 2,
            "subtests": ["shmem_lseek:swapped", "shmem_lseek:swapped_2"],
        }
    ]
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["skips"] == "2 x no swap"
    lines = terminal_summary(report, tmp_path)
    assert "  skipped 2 x: no swap" in lines


RECORDED = Path(__file__).parent / "fixtures" / "recorded"


def replayed_report() -> RunReport:
    """The recorded debian-7.2 programs (with real failures) as one run's report."""
    from orchestrator.replay import read_console_log, replay_console
    from orchestrator.run import classify

    report = sample_report()
    report.infrastructure_errors = []
    report.programs = []
    for log in sorted((RECORDED / "matrix" / "debian-7.2").glob("*.log")):
        _, executions = replay_console(read_console_log(log))
        report.programs += [classify(report.kernels[0].name, e) for e in executions]
    return report


def test_each_case_holds_its_own_tap_and_the_suite_the_whole() -> None:
    report = replayed_report()
    text = junit_xml(report)
    validate_junit(text)
    root = ET.fromstring(text)
    cases = 0
    for suite, program in zip(root.findall("testsuite"), report.programs, strict=True):
        whole = suite.find("system-out")
        assert whole is not None and whole.text == program.tap
        for case, sub in zip(suite.findall("testcase"), program.subtests, strict=True):
            out = case.find("system-out")
            own = out.text or "" if out is not None else ""
            assert own == sub.tap
            if sub.status is not Status.ERROR:
                assert f"ok {program.subtests.index(sub) + 1} {sub.subtest}" in own.splitlines()[-1]
            cases += 1
    # Linear: about the TAP twice over (once per case, once per suite) plus a fixed cost.
    tap = sum(len(p.tap.encode()) for p in report.programs)
    assert len(text.encode()) < 2 * tap + 600 * cases, (len(text.encode()), tap, cases)


def test_a_failed_subtest_gives_its_first_diagnostic_as_reason(tmp_path: Path) -> None:
    report = replayed_report()
    failed = [s for p in report.programs for s in p.subtests if s.status is Status.FAIL]
    assert failed
    for sub in failed:
        assert sub.reason and sub.reason == sub.diagnostics[0]
    seek = next(s for s in failed if s.subtest == "memfd_max_size_last_byte_seek_hole_isize")
    assert seek.reason.startswith("SEEK_HOLE from 0x7ffffffffffff000: got 0x8000000000000000")
    summary = report.to_json()
    entry = next(r for r in summary["results"] if r["subtest"] == seek.subtest)
    assert entry["reason"] == seek.reason
    lines = terminal_summary(report, tmp_path)
    assert any(seek.subtest in ln and seek.reason in ln for ln in lines), lines


def test_case_times_come_from_the_host_clock_per_result_line() -> None:
    from orchestrator.console import Execution
    from orchestrator.run import classify

    tap = "TAP version 13\n1..3\n# setting up\nok 1 a\n# why\nnot ok 2 b\nok 3 c\n"
    # Each line of the output arrived at these host times (seconds from the start).
    arrived = (0.1, 0.2, 0.3, 1.5, 1.6, 4.0, 4.25)
    execution = Execution("p", "completed", 1, tap, 5.0, 0, 0, line_times=arrived)
    result = classify("k", execution)
    assert [(s.subtest, s.seconds) for s in result.subtests] == [
        ("a", 1.5),
        ("b", 2.5),
        ("c", 0.25),
    ]
    assert [s.tap for s in result.subtests] == [
        "TAP version 13\n1..3\n# setting up\nok 1 a\n",
        "# why\nnot ok 2 b\n",
        "ok 3 c\n",
    ]
    assert result.subtests[1].reason == "why"
    report = sample_report()
    report.programs = [result]
    case = ET.fromstring(junit_xml(report)).find("testsuite/testcase[@name='b']")
    assert case is not None and case.get("time") == "2.500"


def test_characters_xml_cannot_carry_are_shown_escaped() -> None:
    report = sample_report()
    program = report.programs[0]
    program.tap += "garbage \x01\x1b[0m\x00 end\n"
    program.subtests[1].diagnostics.append("bad byte \x02")
    program.subtests[1].reason = "why \x03"
    text = junit_xml(report)
    validate_junit(text)
    assert "garbage \\x01\\x1b[0m\\x00 end" in text
    failure = ET.fromstring(text).find("testsuite/testcase[@name='hole_found']/failure")
    assert failure is not None and failure.get("message") == "why \\x03"
