"""Fault injection on a real VM: every fault is classified, nothing else is lost.

The programs in tests/faults misbehave on purpose (panic, taint, hang, SIGSEGV,
garbage and truncated TAP, no plan) between two well-behaved ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from browser import browser, cell, detail, open_report, read_matrix
from junit_schema import validate as validate_junit
from runs import broken_default_kernel

from orchestrator.boot import QemuGuest
from orchestrator.build import build_selftests
from orchestrator.cache import default_cache_dir
from orchestrator.image import build_initramfs
from orchestrator.kernel import resolve_kernel
from orchestrator.qemu import VmConfig

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.qemu


def orchestrate(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any], Path]:
    results = tmp_path_factory.mktemp("faults")
    code, text = orchestrate("--results", str(results), "--selftests", "tests/faults")
    summary = json.loads((results / "latest" / "summary.json").read_text())
    return code, text, summary, results / "latest"


def by_program(summary: dict[str, Any]) -> dict[str, dict[str, tuple[str, str]]]:
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for r in summary["results"]:
        out.setdefault(r["program"], {})[r["subtest"]] = (r["status"], r["reason"])
    return out


def test_faults_are_tests_failing_not_infrastructure(fault_run: Any) -> None:
    code, text, summary, run_dir = fault_run
    assert code == 1, text
    assert "Traceback" not in text
    assert summary["complete"] is True
    assert not summary["infrastructure_errors"]
    validate_junit((run_dir / "junit.xml").read_text())


def test_well_behaved_programs_keep_their_results(fault_run: Any) -> None:
    results = by_program(fault_run[2])
    assert results["fault_pass"] == {"first": ("pass", ""), "second": ("pass", "")}
    assert results["fault_pass_after"] == {
        "after_first": ("pass", ""),
        "after_second": ("pass", ""),
    }


def test_panic_is_a_crash_with_its_fingerprint_and_a_fresh_vm_follows(fault_run: Any) -> None:
    summary = fault_run[2]
    panic = by_program(summary)["fault_panic"]
    assert panic["before_panic"][0] == "pass"
    for missing in ("test_2", "test_3"):
        status, reason = panic[missing]
        assert status == "crash"
        assert "sysrq triggered crash in sysrq_handle_crash" in reason
    # One guest per VM at once (the defaults run several), and after panic, hang and halt
    # the next program on that worker gets a fresh VM (one that ends its worker's share
    # has nothing after it: that depends on how the tests were handed out).
    workers = summary["config"]["workers"]
    fatal = {"fault_panic", "fault_hang", "fault_halt"}
    followed = 0
    for log in sorted((fault_run[3] / "progress").glob("*.jsonl")):
        events = [json.loads(line) for line in log.read_text().splitlines()]
        steps = [e["event"] if e["event"] == "boot" else e.get("program", "")
                 for e in events if e["event"] in ("boot", "start")]  # fmt: skip
        for i, step in enumerate(steps):
            if step in fatal and i + 1 < len(steps):
                assert steps[i + 1] == "boot", f"{log.name}: no fresh VM after {step}: {steps}"
                followed += 1
    assert summary["kernels"][0]["boots"] == workers + followed


def test_the_html_report_shows_the_faults_in_a_browser(fault_run: Any) -> None:
    summary, run_dir = fault_run[2], fault_run[3]
    with browser() as chrome:
        open_report(chrome, run_dir / "report.html")
        shown = {(c["program"], c["subtest"]): c["text"] for c in read_matrix(chrome)}
        assert shown == {(r["program"], r["subtest"]): r["status"] for r in summary["results"]}
        cell(chrome, summary["kernels"][0]["name"], "fault_panic", "test_2").click()
        details = detail(chrome)
    assert details["status"] == "crash"
    assert "sysrq triggered crash in sysrq_handle_crash" in details["reason"]
    assert "TAP of fault_panic" in details["links"] and "console log console/" in details["links"]


def test_taint_is_an_error_naming_the_flag(fault_run: Any) -> None:
    status, reason = by_program(fault_run[2])["fault_taint"]["kernel_taint"]
    assert status == "error"
    assert "W warning" in reason


def test_hang_is_a_timeout_of_that_program_only(fault_run: Any) -> None:
    hang = by_program(fault_run[2])["fault_hang"]
    assert hang["before_hang"][0] == "pass"
    status, reason = hang["test_2"]
    assert status == "timeout"
    assert "still answered SysRq" in reason


def test_a_halted_kernel_is_a_crash_seen_on_the_console(fault_run: Any) -> None:
    # QEMU runs on after a halt: the kernel's last words, not QEMU's exit, tell the host.
    halt = by_program(fault_run[2])["fault_halt"]
    assert halt["before_halt"][0] == "pass"
    status, reason = halt["test_2"]
    assert status == "crash"
    assert "stopped the machine" in reason and "System halted" in reason


def test_signal_truncation_garbage_and_missing_plan(fault_run: Any) -> None:
    results = by_program(fault_run[2])
    segv = results["fault_segv"]
    assert [segv[n][0] for n in ("one", "two", "test_3", "test_4")] == [
        "pass", "pass", "crash", "crash",
    ]  # fmt: skip
    assert "SIGSEGV" in segv["test_3"][1]
    garbage = results["fault_garbage"]
    assert garbage["fine"][0] == "pass"
    assert garbage["test_2"][0] == garbage["test_3"][0] == "error"
    assert results["fault_noplan"]["fault_noplan"][0] == "error"


def test_a_kernel_that_does_not_boot_is_infrastructure(tmp_path: Path) -> None:
    broken = broken_default_kernel(tmp_path)
    results = tmp_path / "results"
    start = time.monotonic()
    code, text = orchestrate(
        "--results", str(results), "--kernel", str(broken), "--boot-timeout", "20",
        "-k", "shmem_lseek",
    )  # fmt: skip
    assert code == 2, text
    assert time.monotonic() - start < 120
    assert "Traceback" not in text
    summary = json.loads((results / "latest" / "summary.json").read_text())
    errors = summary["infrastructure_errors"]
    assert len(errors) == 1 and "did not boot" in errors[0]["cause"]
    assert summary["results"] == [], "a boot failure is not a test result"
    junit = (results / "latest" / "junit.xml").read_text()
    assert 'type="infrastructure"' in junit


def test_a_kernel_that_stops_responding_is_a_crash(tmp_path: Path) -> None:
    cache = default_cache_dir()
    kernel = resolve_kernel(None, None, cache, ROOT / "qemu-images/kernel-presets.toml")
    tests = build_selftests(ROOT / "tests" / "faults", cache)
    image = build_initramfs(kernel, tests, ROOT / "qemu-images" / "init", cache, swap=False)
    guest = QemuGuest(VmConfig(swap_mb=0), kernel.image, image.initramfs, tmp_path / "console.log")
    guest.boot()
    try:
        child = guest._child
        assert child is not None
        # Freeze the whole machine from QEMU's monitor: nothing in the guest runs any more.
        child.send("\x01c")
        child.expect_exact("(qemu)", timeout=10)
        child.send("stop\n")
        child.expect_exact("(qemu)", timeout=10)
        child.send("\x01c")
        execution = guest.run("fault_pass", 5)
    finally:
        guest.kill()
    assert execution.outcome == "crash"
    assert "stopped responding" in execution.detail
