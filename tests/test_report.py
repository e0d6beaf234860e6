"""junit.xml and summary.json: shape, Jenkins schema, atomic files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

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

SCHEMA = Path(__file__).parent / "schema" / "jenkins-junit-10.xsd"
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
    text = junit_xml(sample_report())
    xmlschema.XMLSchema(str(SCHEMA)).validate(text)


def test_junit_maps_each_status() -> None:
    root = ET.fromstring(junit_xml(sample_report()))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "debian-6.1.0-56-cloud-amd64.shmem_lseek",
        "other.infrastructure",
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
    out = cases["data_found"].find("system-out")
    assert out is not None and "ok 1 data_found" in (out.text or "")
    assert suites[0].get("failures") == "1" and suites[0].get("errors") == "2"
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
        "subtest": "data_found", "status": "pass", "reason": "", "flaky": False,
    }  # fmt: skip
    assert {r["status"] for r in summary["results"]} <= {
        "pass", "fail", "skip", "xfail", "xpass", "crash", "timeout", "error"
    }  # fmt: skip
    assert summary["counts"]["fail"] == 1
    tap = run_dir / "tap" / "debian-6.1.0-56-cloud-amd64" / "shmem_lseek.tap"
    assert tap.read_text() == TAP
    assert not [p for p in run_dir.rglob(".*") if p.is_file()], "no temporary files left"
    point_latest(tmp_path, run_dir)
    assert (tmp_path / "latest" / "summary.json").is_file()


def test_flaky_subtests_carry_a_flaky_failure() -> None:
    report = sample_report()
    report.programs[0].subtests[0].flaky = True
    report.programs[0].subtests[0].reason = "passed on retry in a fresh VM; first attempt fail"
    text = junit_xml(report)
    xmlschema.XMLSchema(str(SCHEMA)).validate(text)
    case = ET.fromstring(text).find("testsuite/testcase[@name='data_found']")
    assert case is not None
    flaky = case.find("flakyFailure")
    assert flaky is not None and "first attempt fail" in (flaky.get("message") or "")
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
