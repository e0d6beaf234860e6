"""The guest's end on a real VM: QEMU ends as soon as the guest has left, whatever the
kernel can do, and Ctrl-C or SIGTERM end a run at once with whole reports."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from orchestrator.boot import QemuGuest
from orchestrator.build import build_selftests
from orchestrator.cache import default_cache_dir
from orchestrator.image import build_initramfs
from orchestrator.kernel import resolve_kernel
from orchestrator.qemu import VmConfig

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.qemu


def fault_guest(log: Path, append: str = "") -> QemuGuest:
    cache = default_cache_dir()
    kernel = resolve_kernel(None, None, cache, ROOT / "qemu-images/kernel-presets.toml")
    tests = build_selftests(ROOT / "tests" / "faults", cache)
    image = build_initramfs(kernel, tests, ROOT / "qemu-images" / "init", cache, swap=False)
    return QemuGuest(VmConfig(swap_mb=0), kernel.image, image.initramfs, log, append=append)


@pytest.mark.parametrize("append", ["", "acpi=off"], ids=["acpi", "no-acpi"])
def test_shutdown_ends_qemu_when_the_guest_leaves(tmp_path: Path, append: str) -> None:
    # Without ACPI the kernel cannot power off; the guest resets instead and QEMU, run with
    # -no-reboot, exits: the host never waits for a timeout.
    guest = fault_guest(tmp_path / "console.log", append)
    guest.boot()
    how = guest.shutdown()
    log = (tmp_path / "console.log").read_text()
    assert how in ("exited", "last words"), log[-2000:]
    assert "<<<residency:poweroff>>>" in log
    assert not guest.alive


def _default_sigint() -> None:
    # A run started in the background of a non-interactive shell (`cmd &`, as a CI script
    # may) inherits SIGINT ignored, and Python then leaves it ignored: the run this test
    # interrupts must be one a Ctrl-C reaches.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_run(results: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "--results", str(results),
         "--selftests", "tests/faults", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_default_sigint,
    )  # fmt: skip


def wait_for_console(results: Path, text: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        for log in results.glob("*/console/*/*.log"):
            if text in log.read_text(errors="replace"):
                return
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{text!r} never reached the console")


@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGINT, []), (signal.SIGTERM, ["-n", "2"])],
    ids=["sigint", "sigterm-xdist"],
)
def test_a_signal_ends_the_run_with_whole_reports(
    tmp_path: Path, signum: signal.Signals, workers: list[str]
) -> None:
    results = tmp_path / "results"
    proc = start_run(results, "-k", "fault_hang or fault_pass", *workers)
    wait_for_console(results, " fault_hang>>>", proc)  # the start marker: the test is running
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    assert "interrupted" in out
    assert "Traceback" not in out
    run = results / "latest"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["complete"] is False
    assert not summary["infrastructure_errors"], "an interrupt is not an infrastructure failure"
    hung = [r for r in summary["results"] if r["program"] == "fault_hang"]
    assert all(r["status"] != "pass" for r in hung if r["subtest"] != "before_hang")
    assert ElementTree.parse(run / "junit.xml").getroot().tag == "testsuites"
