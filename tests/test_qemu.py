"""End to end: the default Debian kernel really boots in QEMU and runs the real tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from junit_schema import validate as validate_junit
from runs import orchestrate

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.qemu


def test_default_kernel_runs_the_suite_and_rebuilds_nothing_twice(tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, text, summary = orchestrate(results)
    assert code == 0, text
    assert "Traceback" not in text
    kernel = summary["kernels"][0]
    assert kernel["kind"] == "debian-package"
    assert kernel["uname_r"] and kernel["uname_r"] in kernel["version_string"]
    assert kernel["swap_kb"] >= 500 * 1024, "the guest saw the 512M swap disk"
    assert summary["complete"] is True
    programs = {p["program"] for p in summary["programs"]}
    assert {"shmem_lseek", "madv_populate"} <= programs
    assert all(p["outcome"] == "completed" for p in summary["programs"])
    statuses = {r["status"] for r in summary["results"]}
    assert statuses <= {"pass", "skip", "xfail"}, summary["counts"]
    assert summary["counts"]["pass"] > 40
    # Swap is there, so the swap subtests ran instead of skipping.
    swapped = [r for r in summary["results"] if "swapped_out" in r["subtest"]]
    assert swapped and all(r["status"] == "pass" for r in swapped), swapped
    junit = (results / "latest" / "junit.xml").read_text()
    validate_junit(junit)
    assert "swap 512 MiB" in text
    # The defaults: on microvm (this kernel has PVH, virtio-mmio and ACPI), the programs
    # spread over the host's cores with one vCPU each, the pressure programs in 128M guests.
    assert kernel["machine"] == "microvm", kernel["machine_why"]
    config = summary["config"]
    cores = len(os.sched_getaffinity(0))
    assert (config["workers"], config["smp"]) == ((min(cores, 8), 1) if cores > 1 else (1, 2))
    assert config["program_memory_mb"] == {"shmem_pressure": 128, "anon_pressure": 128}
    logs = {p.name.split("-")[0] for p in (results / "latest" / "console").rglob("*.log")}
    assert logs == ({f"gw{i}" for i in range(config["workers"])} if cores > 1 else {"main"})
    # The pressure programs fill their guests' RAM: lean guests, with (under TCG) a small
    # translation cache; the others keep QEMU's default.  A console log's first line is
    # its QEMU command.
    for log in (results / "latest" / "console").rglob("*.log"):
        command = log.read_text().splitlines()[0]
        lean = " -m 128M " in command
        assert ("tb-size=16" in command) == (lean and kernel["accel"] == "tcg"), command

    # One program: its own guest image (built once), and the second time its guest boots
    # ahead, before the plan is made (ahead.py).
    code, text, summary = orchestrate(results, "-k", "shmem_lseek")
    assert code == 0, text
    assert summary["config"]["built"]["selftests"] is False
    code, text, summary = orchestrate(results, "-k", "shmem_lseek")
    assert code == 0, text
    assert summary["config"]["built"] == {"selftests": False, "initramfs": False}
    assert summary["kernels"][0]["booted_ahead"] == 1
    assert summary["complete"] is True
    assert [p["program"] for p in summary["programs"]] == ["shmem_lseek"]
    assert (summary["config"]["workers"], summary["config"]["smp"]) == (1, 2), "one test"
