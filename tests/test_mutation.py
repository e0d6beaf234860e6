"""Slow: the suite must turn red on every deliberately broken kernel of tools/mutation.

`tox -e tests -- --run-slow -k mutation -s` builds Debian's linux-source-6.12 as a minimal
kernel once per mutant and runs the whole suite on each (about 20 minutes on 2 cores once
the tree is built; RESIDENCY_KERNEL_TREE=DIR uses a 6.12 tree of yours, patched in place).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.qemu]


def test_every_mutant_turns_a_subtest_red(tmp_path: Path) -> None:
    cmd = [sys.executable, "tools/mutation/mutate.py", "--work", str(tmp_path)]
    if os.environ.get("RESIDENCY_KERNEL_TREE"):
        cmd += ["--tree", os.environ["RESIDENCY_KERNEL_TREE"]]
    proc = subprocess.run(
        [*cmd, "--", "-n", "2", "--smp", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=4 * 3600, check=False,
    )  # fmt: skip
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    matrix = (tmp_path / "kill-matrix.txt").read_text()
    assert "SURVIVED" not in matrix
    assert "unmodified kernel:" in matrix and ", 0 red," in matrix
