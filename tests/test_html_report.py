"""report.html: rendered from summary.json data, escaped, self-contained, and checked in a
real headless browser (Debian's chromium) on a run replayed from recorded console logs:
the matrix cells and their statuses, a click that shows a result's reason and
diagnostics, the links into the run directory, infrastructure errors on top, baseline
marks when summary.json has them."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import browser, cell, detail, open_report, read_matrix
from recorded_run import matrix_run
from selenium import webdriver
from selenium.webdriver.common.by import By

from orchestrator.html_report import GOOD_STATUSES, href, is_problem, render

HOSTILE = "<script>window.pwned = 1</script>&amp;\"'"
END_SCRIPT = "</script><script>window.pwned = 2</script><!--"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return matrix_run(tmp_path_factory.mktemp("html"), infrastructure=True)


@pytest.fixture(scope="module")
def summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return data


@pytest.fixture(scope="module")
def chrome() -> Iterator[webdriver.Chrome]:
    with browser() as chrome:
        yield chrome


def result(summary: dict[str, Any], kernel: str, program: str, subtest: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        r
        for r in summary["results"]
        if (r["kernel"], r["program"], r["subtest"]) == (kernel, program, subtest)
    )
    return found


def hostile_summary() -> dict[str, Any]:
    return {
        "run_id": HOSTILE, "exit_status": 1, "complete": True,
        "kernels": [{"name": HOSTILE, "console": [f"console/{HOSTILE}/x.log"]}],
        "programs": [{"kernel": HOSTILE, "program": "p<i>", "outcome": "completed",
                      "exit_code": 1, "seconds": 1.0, "tap": f"tap/{HOSTILE}/p<i>.tap",
                      "console": ["/etc/passwd"], "detail": HOSTILE, "problems": [END_SCRIPT]}],
        "results": [{"kernel": HOSTILE, "program": "p<i>", "subtest": HOSTILE, "status": "fail",
                     "reason": END_SCRIPT, "diagnostics": [HOSTILE, END_SCRIPT], "flaky": False}],
        "infrastructure_errors": [{"kernel": HOSTILE, "step": "boot", "cause": END_SCRIPT,
                                   "fix": HOSTILE}],
    }  # fmt: skip


def test_the_run_writes_the_page_with_its_reports(run_dir: Path, summary: dict[str, Any]) -> None:
    page = (run_dir / "report.html").read_text()
    assert page == render(summary), "report.html is render() of summary.json's data"


def test_every_text_is_escaped_and_nothing_is_fetched() -> None:
    page = render(hostile_summary())
    assert "<script>window.pwned" not in page and "<i>" not in page
    assert len(re.findall(r"<script\b", page)) == 2, "the data block and the page's own script"
    assert not re.search(r"\b(src|srcset)=|<link\b|@import|url\(|https?://", page)
    assert "/etc/passwd" not in re.findall(r'href="([^"]*)"', page), "absolute paths: no links"
    assert "tap/%3Cscript%3E" in page, "links are quoted, segment by segment"


def test_links_stay_inside_the_run_directory() -> None:
    assert href("tap/k#1/p.tap") == "tap/k%231/p.tap"
    assert href("console/a b/x.log") == "console/a%20b/x.log"
    for outside in ("/etc/passwd", "../x", "tap/../../x", "https://example.org/x", "", None):
        assert href(outside) is None, outside


def test_absent_keys_are_no_error() -> None:
    page = render({})
    assert "no test results" in page and 'id="baseline"' not in page
    page = render({"results": [{"kernel": "k", "program": "p", "subtest": "s"}]})
    assert 'class="cell st-other"' in page


def test_infrastructure_errors_come_before_the_matrix(summary: dict[str, Any]) -> None:
    page = render(summary)
    assert 0 < page.index('id="infrastructure-errors"') < page.index('id="matrix"')
    assert page.index('id="incomplete"') < page.index('id="matrix"')


def test_baseline_marks_when_summary_json_has_them(summary: dict[str, Any]) -> None:
    data = with_baseline(summary)
    page = render(data)
    assert 'id="baseline"' in page and "20261202-base" in page
    assert re.search(r'class="cell st-fail bl-gate"[^>]*data-baseline="regression"', page)
    assert re.search(r'class="cell st-pass bl-fixed"[^>]*data-baseline="fixed"', page)


def with_baseline(summary: dict[str, Any]) -> dict[str, Any]:
    """The keys branch gate's --baseline adds: a class per result, a top-level object."""
    data = copy.deepcopy(summary)
    data["baseline"] = {"run_id": "20261202-base", "path": "base/summary.json"}
    for r in data["results"]:
        r["baseline"] = "still failing" if r["status"] not in GOOD_STATUSES else ""
    result(data, "debian-6.12", "shmem_lseek", "memfd_max_size_last_byte_seek_data")["baseline"] = (
        "regression"
    )
    result(data, "debian-6.1", "shmem_lseek", "memfd_empty_file_enxio")["baseline"] = "fixed"
    return data


# In the browser.


def test_the_browser_shows_every_result_in_its_cell(
    chrome: webdriver.Chrome, run_dir: Path, summary: dict[str, Any]
) -> None:
    open_report(chrome, run_dir / "report.html")
    cells = read_matrix(chrome)
    shown = {(c["kernel"], c["program"], c["subtest"]): c for c in cells}
    assert len(shown) == len(cells), "one cell per kernel x program x subtest"
    for r in summary["results"]:
        c = shown[(r["kernel"], r["program"], r["subtest"])]
        assert c["text"].split("\n")[0] == r["status"], (r, c)
        assert ("flaky" in c["text"]) == r["flaky"], (r, c)
    statuses = Counter(c["text"].split("\n")[0] for c in cells)
    expected = Counter(r["status"] for r in summary["results"])
    assert statuses - Counter({"·": statuses["·"]}) == expected
    assert {"pass", "fail", "skip", "xfail", "xpass", "crash", "timeout", "error"} <= set(expected)
    colours: dict[str, set[str]] = {}
    for c in cells:
        colours.setdefault(c["text"].split("\n")[0], set()).add(c["background"])
    assert all(len(v) == 1 for v in colours.values()), "one colour per status"
    assert len({next(iter(v)) for v in colours.values()}) == len(colours), "distinct colours"


def test_a_click_shows_the_reason_and_diagnostics(
    chrome: webdriver.Chrome, run_dir: Path, summary: dict[str, Any]
) -> None:
    open_report(chrome, run_dir / "report.html")
    assert not chrome.find_element(By.ID, "detail").is_displayed()
    key = ("debian-6.12", "shmem_lseek", "memfd_max_size_last_byte_seek_data")
    cell(chrome, *key).click()
    shown = detail(chrome)
    recorded = result(summary, *key)
    assert shown["title"] == " / ".join(key) and shown["status"] == "fail"
    assert recorded["diagnostics"] and shown["diagnostics"] == "\n".join(recorded["diagnostics"])
    assert "SEEK_DATA from 0x0: got -1 (ENXIO)" in shown["diagnostics"]
    assert "completed, exit status 1" in shown["program"]
    links = {
        a.text: str(a.get_attribute("href"))
        for a in chrome.find_elements(By.CSS_SELECTOR, "#d-links a")
    }
    assert set(links) == {"TAP of shmem_lseek", "console log console/debian-6.12/gw0-boot2.log"}
    for target in links.values():
        assert target.startswith(run_dir.resolve().as_uri() + "/"), "inside the run directory"
    chrome.get(links["TAP of shmem_lseek"])
    assert "TAP version 13" in chrome.find_element(By.TAG_NAME, "body").text

    open_report(chrome, run_dir / "report.html")
    key = ("faults-6.1", "fault_panic", "test_2")
    cell(chrome, *key).click()
    shown = detail(chrome)
    assert shown["status"] == "crash" and shown["reason"] == result(summary, *key)["reason"]
    assert shown["reason"] == "no result: console ended"
    flaky = ("debian-7.2", "shmem_lseek", "memfd_max_size_last_byte_seek_data")
    cell(chrome, *flaky).click()
    shown = detail(chrome)
    assert shown["status"].startswith("pass (flaky") and "first attempt fail" in shown["reason"]
    chrome.find_element(By.ID, "d-close").click()
    assert not chrome.find_element(By.ID, "detail").is_displayed()


def test_infrastructure_errors_are_on_top_and_problems_can_be_singled_out(
    chrome: webdriver.Chrome, run_dir: Path, summary: dict[str, Any]
) -> None:
    open_report(chrome, run_dir / "report.html")
    errors = chrome.find_element(By.ID, "infrastructure-errors")
    assert "broken-7.3 at boot" in errors.text and "Unable to mount root fs" in errors.text
    assert errors.location["y"] < chrome.find_element(By.ID, "matrix").location["y"]
    chrome.find_element(By.ID, "only-problems").click()
    visible = {
        (c["kernel"], c["program"], c["subtest"]) for c in read_matrix(chrome) if c["visible"]
    }
    problems = {(r["program"], r["subtest"]) for r in summary["results"] if is_problem(r)}
    assert {(p, s) for _, p, s in visible} == problems
    assert len(problems) == 6, "2 SEEK_DATA/SEEK_HOLE rows, 4 of the fault programs"


def test_the_browser_marks_regressions(
    chrome: webdriver.Chrome, tmp_path: Path, summary: dict[str, Any]
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(with_baseline(summary)))
    open_report(chrome, page)
    cells = {(c["kernel"], c["program"], c["subtest"]): c for c in read_matrix(chrome)}
    regression = cells[("debian-6.12", "shmem_lseek", "memfd_max_size_last_byte_seek_data")]
    assert regression["text"] == "fail\nregression" and "inset" in regression["outline"]
    unmarked = cells[("debian-6.12", "shmem_lseek", "memfd_empty_file_enxio")]
    assert unmarked["outline"] == "none"
    assert "20261202-base" in chrome.find_element(By.ID, "baseline").text


def test_the_browser_runs_no_injected_script(chrome: webdriver.Chrome, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(hostile_summary()))
    open_report(chrome, page)
    chrome.find_element(By.CSS_SELECTOR, "td.cell").click()
    assert chrome.execute_script("return window.pwned === undefined")
    shown = detail(chrome)
    assert shown["reason"] == END_SCRIPT and shown["diagnostics"] == f"{HOSTILE}\n{END_SCRIPT}"
    assert HOSTILE in chrome.find_element(By.TAG_NAME, "h1").text
