"""python -m orchestrator.merge: runs made apart (recorded consoles replayed into real run
directories, one kernel each) merged into one run give the verdict and the reports of one
run over the same kernels; bad input exits 2 with one line and writes nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from junit_schema import validate as validate_junit
from recorded_run import recorded_run

from orchestrator import merge

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"debian-6.1": True}  # pass, skip, xfail
BAD = {"debian-6.12": False}  # without expectations: two failures


def merge_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.merge", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def summary_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return data


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary without what tells one run from another (its id, times, sources)."""
    return {
        k: v
        for k, v in summary.items()
        if k not in ("run_id", "started", "finished", "merged_from", "config")
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "good": recorded_run(root / "agent-6.1", "20261203-010000-aaaa", GOOD),
        "bad": recorded_run(root / "agent-6.12", "20261203-010000-bbbb", BAD),
        "both": recorded_run(root / "one-run", "20261203-010000-cccc", GOOD | BAD),
    }


def test_two_runs_merged_are_one_run_over_both(runs: dict[str, Path], tmp_path: Path) -> None:
    proc = merge_cli("--results", str(tmp_path / "out"), str(runs["good"]), str(runs["bad"]))
    merged = (tmp_path / "out" / "latest").resolve()
    one = runs["both"]
    assert proc.returncode == summary_of(one)["exit_status"] == 1, proc.stdout + proc.stderr
    assert "exit status 1: test failures" in proc.stdout
    assert comparable(summary_of(merged)) == comparable(summary_of(one))
    assert [m["run_id"] for m in summary_of(merged)["merged_from"]] == [
        "20261203-010000-aaaa",
        "20261203-010000-bbbb",
    ]

    def junit(run_dir: Path) -> str:
        text = (run_dir / "junit.xml").read_text()
        return text.replace(summary_of(run_dir)["run_id"], "RUN")

    assert junit(merged) == junit(one)
    validate_junit((merged / "junit.xml").read_text())
    cases = ET.fromstring(junit(merged)).iter("testcase")
    kernels = {c.get("classname", "").rsplit(".", 1)[0] for c in cases}
    assert kernels == {"debian-6.1", "debian-6.12"}

    def matrix(run_dir: Path) -> str:
        page = (run_dir / "report.html").read_text()
        return page[page.index('<table class="matrix"') :]

    assert matrix(merged) == matrix(one), "the same matrix, cells and data"
    for name in ("tap", "console"):
        files = sorted(p.relative_to(merged) for p in (merged / name).rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(one) for p in (one / name).rglob("*") if p.is_file())


def test_every_link_of_the_merged_page_works(runs: dict[str, Path], tmp_path: Path) -> None:
    assert merge.main(["--results", str(tmp_path), str(runs["good"]), str(runs["bad"])]) == 1
    merged = (tmp_path / "latest").resolve()
    links = re.findall(r'href="([^"]+)"', (merged / "report.html").read_text())
    data = (merged / "report.html").read_text()
    links += re.findall(r'"(?:tap|console)":"?\[?"((?:tap|console)/[^"]+)"', data)
    assert len(links) > 20
    for link in links:
        assert (merged / link).is_file(), link


def test_the_verdict_is_the_gates(runs: dict[str, Path], tmp_path: Path) -> None:
    assert merge.main(["--results", str(tmp_path / "a"), str(runs["good"])]) == 0
    assert merge.main(["--results", str(tmp_path / "b"), str(runs["bad"])]) == 1


def test_the_baseline_joins_the_verdict(runs: dict[str, Path], tmp_path: Path) -> None:
    # The target branch's last merge: 6.12's two known bugs were xfail there, fail now.
    base = recorded_run(tmp_path / "base", "20261202-000000-base", GOOD | {"debian-6.12": True})
    args = [str(runs["good"]), str(runs["bad"])]
    assert merge.main(["--results", str(tmp_path / "a"), "--baseline", str(base), *args]) == 1
    merged = tmp_path / "a" / "latest"
    classes = {(r["kernel"], r["subtest"]): r["baseline"] for r in summary_of(merged)["results"]}
    regressions = sorted(k for k, v in classes.items() if v == "regression")
    assert regressions == [
        ("debian-6.12", "memfd_max_size_last_byte_seek_data"),
        ("debian-6.12", "memfd_max_size_last_byte_seek_hole_isize"),
    ]
    assert summary_of(merged)["baseline"]["run"] == "20261202-000000-base"
    assert (merged / "report.html").read_text().count('data-baseline="regression"') == 2
    # Against one run over both kernels, with the same failures: still failing, the gate passes.
    assert (
        merge.main(["--results", str(tmp_path / "b"), "--baseline", str(runs["both"]), *args]) == 0
    )
    still = {r["baseline"] for r in summary_of(tmp_path / "b" / "latest")["results"]}
    assert "still failing" in still and "regression" not in still


def test_an_infrastructure_error_in_one_run_is_the_merges(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    # The run directory of an agent whose kernel did not boot, as the orchestrator leaves it.
    broken = recorded_run(tmp_path / "agent-7.3", "20261203-010000-dddd", {"debian-7.3": True})
    summary = summary_of(broken)
    summary["infrastructure_errors"] = [
        {"kernel": "debian-7.3", "step": "boot", "cause": "did not boot", "fix": "look"}
    ]
    summary["complete"], summary["exit_status"] = False, 2
    (broken / "summary.json").write_text(json.dumps(summary))
    proc = merge_cli("--results", str(tmp_path / "out"), str(runs["good"]), str(broken))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    merged = summary_of(tmp_path / "out" / "latest")
    assert merged["complete"] is False and merged["exit_status"] == 2
    assert merged["infrastructure_errors"][0]["cause"] == "did not boot"
    assert "infrastructure error: debian-7.3: did not boot" in proc.stdout


def test_results_directories_are_found_as_jenkins_unstashes_them(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    with_latest = runs["good"].parent  # --results DIR: its run and the latest link
    os.symlink(runs["good"].name, with_latest / "latest")
    without_latest = runs["bad"].parent  # a copy that lost the link: its only run
    assert merge.find_run_dir(with_latest) == runs["good"].resolve()
    assert merge.find_run_dir(without_latest) == runs["bad"].resolve()
    assert merge.main(["--results", str(tmp_path), str(with_latest), str(without_latest)]) == 1
    (with_latest / "latest").unlink()


def _broken_inputs(runs: dict[str, Path], tmp: Path) -> list[tuple[list[str], list[str]]]:
    empty = tmp / "empty"
    empty.mkdir(parents=True)
    garbled = tmp / "garbled"
    garbled.mkdir()
    (garbled / "summary.json").write_text('{"schema": 1, "kernels": [')
    no_plan = tmp / "no-plan"
    no_plan.mkdir()
    (no_plan / "summary.json").write_text((runs["good"] / "summary.json").read_text())
    two = tmp / "two-runs"
    for name in ("20261203-000000-a", "20261203-000000-b"):
        (two / name).mkdir(parents=True)
        (two / name / "summary.json").write_text("{}")
    return [
        ([str(tmp / "nowhere")], ["is not a directory", "fix:"]),
        ([str(empty)], ["is not a results directory", "fix: give a run directory"]),
        ([str(garbled)], ["cannot be read as JSON", "fix:"]),
        ([str(no_plan)], ["has no plan.json", "fix:"]),
        ([str(two)], ["holds 2 runs", "fix: give the run directory"]),
        ([str(runs["good"]), str(runs["both"])], ["two runs tested a kernel named debian-6.1"]),
        ([str(runs["good"]), str(runs["good"])], ["debian-6.1 (both in"]),
        ([], ["the following arguments are required: RUN_DIR"]),
        (["--baseline", str(tmp / "nowhere"), str(runs["good"])], ["does not exist", "fix:"]),
    ]


def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for args, words in _broken_inputs(runs, tmp_path / "inputs"):
        proc = merge_cli("--results", str(out), *args)
        text = proc.stdout + proc.stderr
        assert proc.returncode == 2, (args, text)
        assert "Traceback" not in text
        assert [ln for ln in text.splitlines() if "error:" in ln], text
        for word in words:
            assert word in text, (args, word, text)
        assert not out.exists(), "no half-written merge"


def test_a_merge_is_not_merged_again(runs: dict[str, Path], tmp_path: Path) -> None:
    merge.main(["--results", str(tmp_path / "m"), str(runs["good"])])
    proc = merge_cli("--results", str(tmp_path / "again"), str(tmp_path / "m"))
    assert proc.returncode == 2 and "is itself a merge of runs" in proc.stderr
