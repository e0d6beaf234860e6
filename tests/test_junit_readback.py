"""junit.xml read back by junitparser, as tools around Jenkins read JUnit files, from a
four-preset run with every status: the recorded four-kernel run and the fault recordings
replayed into a real run directory (tests/recorded_run.matrix_run: fail, skip, xfail, xpass,
crash, timeout, error and flaky results).  Every testcase round-trips against summary.json
(status, time, classname, flakiness), and the file grows linearly with its testcases: about
350 bytes per testcase (352 for one kernel's 188 subtests, 345 for four kernels' 752, and
the same per case in a program of 7 subtests as in one of 76)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from junit_schema import validate as validate_junit
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite
from lxml import etree
from recorded_run import VERSIONS, matrix_run, recorded_run

STATUSES = {"pass", "fail", "skip", "xfail", "xpass", "crash", "timeout", "error"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return matrix_run(tmp_path_factory.mktemp("readback"))


def load(run_dir: Path) -> tuple[dict[str, Any], JUnitXml]:
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return summary, JUnitXml.fromfile(str(run_dir / "junit.xml"))


def cases_of(xml: JUnitXml) -> dict[tuple[str, str], tuple[TestSuite, TestCase]]:
    found = {}
    for suite in xml:
        for case in suite:
            key = (case.classname, case.name)
            assert key not in found, f"{key} twice"
            found[key] = (suite, case)
    return found


def properties_of(suite: TestSuite) -> dict[str, str]:
    found = suite.properties()  # type: ignore[no-untyped-call]  # junitparser leaves it bare
    return {str(p.name): str(p.value) for p in found or []}


def kind(case: TestCase) -> tuple[str, str | None]:
    """The case's one final result as junitparser reads it: (element, its type)."""
    results = case.result
    if not results:
        return "passed", None
    assert len(results) == 1, results
    result = results[0]
    name = {Failure: "failure", Error: "error", Skipped: "skipped"}[type(result)]
    return name, result.type


EXPECTED = {
    "pass": ("passed", None),
    "fail": ("failure", "fail"),
    "xpass": ("failure", "xpass"),
    "crash": ("error", "crash"),
    "timeout": ("error", "timeout"),
    "error": ("error", "error"),
    "skip": ("skipped", None),
    "xfail": ("skipped", None),
}


def test_every_testcase_reads_back_as_summary_json_says(run: Path) -> None:
    validate_junit((run / "junit.xml").read_text())
    summary, xml = load(run)
    results = summary["results"]
    assert {r["status"] for r in results} == STATUSES, "a run with every status"
    assert any(r["flaky"] for r in results) and len(summary["kernels"]) >= 4
    cases = cases_of(xml)
    assert len(cases) == len(results) and not summary["infrastructure_errors"]
    for r in results:
        where = f"{r['kernel']}.{r['program']}"
        suite, case = cases[(where, r["subtest"])]
        assert suite.name == r["program"]
        assert case.time == round(r["seconds"], 3), (where, r["subtest"])
        assert kind(case) == EXPECTED[r["status"]], (where, r["subtest"], r["status"])
        message = case.result[0].message if case.result else None
        if r["status"] == "skip":
            assert message == r["reason"]
        elif r["status"] == "xfail":
            assert message == f"expected failure: {r['reason']}"
        elif r["status"] != "pass" and r["reason"]:
            assert r["reason"] in (message or "")
        output = case.system_out or ""
        properties = properties_of(suite)
        if r["flaky"]:
            assert output.startswith(f"FLAKY: {r['reason']}\n") and case.is_passed
            assert f"flaky:{r['subtest']}" in properties
        else:
            assert not output.startswith("FLAKY:")
            assert f"flaky:{r['subtest']}" not in properties


def test_suite_counts_read_back(run: Path) -> None:
    _, xml = load(run)
    for suite in xml:
        kinds = [kind(case)[0] for case in suite]
        assert suite.tests == len(kinds), suite.name
        assert suite.failures == kinds.count("failure"), suite.name
        assert suite.errors == kinds.count("error"), suite.name
        assert suite.skipped == kinds.count("skipped"), suite.name


def bytes_per_case(run_dir: Path) -> float:
    _, xml = load(run_dir)
    return (run_dir / "junit.xml").stat().st_size / len(cases_of(xml))


def test_the_size_is_linear_in_the_testcases(tmp_path: Path) -> None:
    """Runs of 1, 2 and 4 of the recorded kernels cost the same per testcase, and within
    a run a testcase of a long program costs what one of a short program does (each case
    carries its own TAP lines, the suite its program's TAP once)."""
    kernels = list(VERSIONS)
    runs = {
        n: recorded_run(tmp_path, f"20261203-00000{n}-size", {k: True for k in kernels[:n]})
        for n in (1, 2, 4)
    }
    sizes = [bytes_per_case(run_dir) for run_dir in runs.values()]
    assert min(sizes) > 250 and max(sizes) < 500, sizes
    assert max(sizes) / min(sizes) < 1.1, sizes
    root = etree.parse(str(runs[4] / "junit.xml")).getroot()
    per_case = {}
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        per_case[len(cases)] = sum(len(etree.tostring(c)) for c in cases) / len(cases)
    longest, shortest = per_case[max(per_case)], per_case[min(per_case)]
    assert max(per_case) >= 10 * min(per_case), per_case  # 76 subtests against 7
    assert longest < 1.5 * shortest, per_case
