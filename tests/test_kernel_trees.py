"""Slow: a developer's own tree, in each of its shapes, built from Debian's linux-source.

`RESIDENCY_KERNEL_TREE=<pristine linux-source tree> tox -e tests -- --run-slow -k trees -s`
(without it, the newest linux-source the host's apt knows is unpacked into the cache).
Every shape but the pristine tree is tinyconfig-based (qemu-images/kernel.config,
selftests/vm/config and tools/mutation/tiny.config merged in), so a cold build takes
minutes.  The pristine tree gets what the orchestrator gives it, x86_64_defconfig plus our
fragments: its cold build is the long one (about 25 min on 2 cores).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import runs

ROOT = Path(__file__).resolve().parent.parent
OURS = [ROOT / "qemu-images/kernel.config", ROOT / "selftests/vm/config"]
TINY = ROOT / "tools/mutation/tiny.config"  # what tinyconfig lacks for the guest's user space
pytestmark = [pytest.mark.slow, pytest.mark.qemu]


def orchestrate(results: Path, kernel: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    return runs.orchestrate(
        results, "--kernel", str(kernel), "-k", "shmem_lseek", *args, timeout=3 * 3600
    )


def make(tree: Path, *args: str) -> None:
    subprocess.run(["make", "-C", str(tree), *args], check=True, capture_output=True)


def tinyconfig(tree: Path, objdir: Path | None = None, ours: bool = True) -> None:
    """tinyconfig plus TINY, and our fragments unless @ours is False."""
    out = [f"O={objdir}"] if objdir else []
    make(tree, *out, "tinyconfig")
    config = (objdir or tree) / ".config"
    subprocess.run(
        [str(tree / "scripts/kconfig/merge_config.sh"), "-m",
         *(["-O", str(objdir)] if objdir else []), str(config), str(TINY),
         *(map(str, OURS) if ours else [])],
        cwd=objdir or tree, check=True, capture_output=True,
    )  # fmt: skip
    make(tree, *out, "olddefconfig")


@pytest.fixture(scope="module")
def pristine(linux_source: Path) -> Path:
    return linux_source


def _snapshot(tree: Path) -> set[str]:
    """The names at the top of @tree and in its arch/x86/boot: what a build would add."""
    return {p.name for p in tree.iterdir()} | {p.name for p in (tree / "arch/x86/boot").iterdir()}


def test_a_pristine_tree_is_built_in_the_cache_and_stays_clean(
    pristine: Path, tmp_path: Path
) -> None:
    before = _snapshot(pristine)
    assert not (pristine / ".config").exists(), f"{pristine} is not pristine"
    code, text, summary = orchestrate(tmp_path / "r1", pristine)
    assert code == 0, text
    kernel = summary["kernels"][0]
    assert kernel["shape"] == "pristine" and kernel["build_dir"] != str(pristine)
    assert _snapshot(pristine) == before, "the tree must stay clean"
    code, text, summary = orchestrate(tmp_path / "r2", pristine)
    assert code == 0, text
    assert summary["kernels"][0]["build"].startswith("reused"), "an unchanged tree builds nothing"


def test_a_make_O_directory_is_built_there_then_reused(pristine: Path, tmp_path: Path) -> None:
    objdir = tmp_path / "build"
    objdir.mkdir()
    tinyconfig(pristine, objdir)
    code, text, summary = orchestrate(tmp_path / "r1", objdir)
    assert code == 0, text
    kernel = summary["kernels"][0]
    assert kernel["shape"] == "objdir" and kernel["build_dir"] == str(objdir)
    assert "build_seconds" in kernel
    code, text, summary = orchestrate(tmp_path / "r2", objdir)
    assert code == 0, text
    assert summary["kernels"][0]["build"].startswith("reused"), "an unchanged tree builds nothing"


def test_missing_options_stop_before_building_or_are_merged(pristine: Path, tmp_path: Path) -> None:
    objdir = tmp_path / "build"
    objdir.mkdir()
    tinyconfig(pristine, objdir, ours=False)
    code, text, summary = orchestrate(tmp_path / "r1", objdir)
    assert code == 2, text
    assert "CONFIG_USERFAULTFD=y (has n)" in text and "merge_config.sh -m" in text
    assert not (objdir / "arch/x86/boot/bzImage").exists(), "it stops before building"
    before = (objdir / ".config").read_text()
    code, text, summary = orchestrate(tmp_path / "r2", objdir, "--merge-config")
    backups = list(objdir.glob(".config.residency-*"))
    assert len(backups) == 1 and backups[0].read_text() == before
    assert code == 0, text
    assert "config_merged" in summary["kernels"][0]


def test_a_tree_built_in_place_and_a_compile_error(pristine: Path, tmp_path: Path) -> None:
    tree = tmp_path / "linux"
    shutil.copytree(pristine, tree, symlinks=True)
    tinyconfig(tree)
    code, text, summary = orchestrate(tmp_path / "r1", tree)
    assert code == 0, text
    assert summary["kernels"][0]["shape"] == "configured"
    code, text, summary = orchestrate(tmp_path / "r1b", tree)
    assert code == 0, text
    assert summary["kernels"][0]["build"].startswith("reused"), "built in place: reused"
    shmem = tree / "mm/shmem.c"
    good = shmem.read_text()
    shmem.write_text(good + "\nthis is not C;\n")
    try:
        code, text, _ = orchestrate(tmp_path / "r2", tree)
    finally:
        shmem.write_text(good)
    assert code == 2, text
    assert "mm/shmem.c" in text and "error:" in text, text
