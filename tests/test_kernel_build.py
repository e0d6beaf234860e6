"""Slow: build a kernel from Debian's linux-source package with our fragments, boot it,
and run the suite on it.  `tox -e tests -- --run-slow -k kernel_build -s` prints the times
(RESIDENCY_KERNEL_TREE=DIR uses a tree you already have)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from orchestrator.cache import default_cache_dir

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.qemu]


def linux_source_tree() -> Path:
    """$RESIDENCY_KERNEL_TREE, else the newest linux-source-X.Y the host's apt knows,
    unpacked once into the cache."""
    if os.environ.get("RESIDENCY_KERNEL_TREE"):
        return Path(os.environ["RESIDENCY_KERNEL_TREE"])
    found = subprocess.run(
        ["apt-cache", "search", "--names-only", r"^linux-source-[0-9.]+$"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    names = sorted((n for n in found if n.startswith("linux-source-")),
                   key=lambda n: [int(x) for x in n.split("-")[-1].split(".")])  # fmt: skip
    assert names, "apt knows no linux-source package"
    package = names[-1]
    base = default_cache_dir() / "src" / package
    tree = base / package
    if (tree / "Makefile").is_file():
        return tree
    base.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=base, check=True, capture_output=True)
    deb = next(base.glob("*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(base / "pkg")], check=True)
    tarball = next((base / "pkg").rglob("linux-source-*.tar.*"))
    with tarfile.open(tarball) as tar:
        tar.extractall(base, filter="tar")
    shutil.rmtree(base / "pkg")
    deb.unlink()
    return tree


def test_kernel_built_from_source_runs_the_suite(tmp_path: Path) -> None:
    tree = linux_source_tree()
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
