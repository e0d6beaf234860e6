"""Slow: build a kernel from Debian's linux-source package with our fragments, boot it,
and run the suite on it.  `tox -e tests -- --run-slow -k kernel_build -s` prints the times
(RESIDENCY_KERNEL_TREE=DIR uses a tree you already have)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.qemu]


def test_kernel_built_from_source_runs_the_suite(linux_source: Path, tmp_path: Path) -> None:
    tree = linux_source
    results = tmp_path / "results"
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--results", str(results), "--kernel", str(tree)],
        cwd=ROOT, capture_output=True, text=True, timeout=4 * 3600, check=False,
    )  # fmt: skip
    wall = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((results / "latest" / "summary.json").read_text())
    kernel = summary["kernels"][0]
    assert kernel["kind"] == "source-tree"
    assert kernel["tree"] == str(tree)
    assert kernel["swap_kb"] > 0
    assert re.fullmatch(r"[0-9a-f]{64}", kernel["config_sha256"])
    print(f"\nkernel build {kernel['build_seconds']} s; whole run {wall:.0f} s; "
          f"{summary['counts']}")  # fmt: skip
