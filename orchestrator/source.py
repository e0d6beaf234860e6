"""Build a kernel from a source tree: its config + our fragments, checked, built incrementally.

The build goes to an output directory in the cache (make O=...), keyed by the tree's path,
so the tree stays clean and an unchanged tree rebuilds nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .bzimage import image_version_string
from .cache import sha256_file
from .errors import InfraError

FRAGMENT_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")


@dataclass(frozen=True)
class TreeSource:
    """Where a kernel built from a source tree came from (its part of the report's kernel)."""

    tree: str
    build_dir: str
    config_sha256: str
    build_seconds: str
    build_log: str
    git_commit: str | None = None
    kind: Literal["source-tree"] = field(default="source-tree", init=False)


@dataclass(frozen=True)
class TreeBuild:
    """A kernel image built from a source tree."""

    image: Path
    version_string: str
    source: TreeSource


def is_source_tree(path: Path) -> bool:
    return (path / "Makefile").is_file() and (path / "Kconfig").is_file()


def read_fragments(fragments: list[Path]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for fragment in fragments:
        for line in fragment.read_text().splitlines():
            m = FRAGMENT_LINE.match(line.strip())
            if m:
                wanted[m.group(1)] = m.group(2)
    return wanted


def missing_options(config_text: str, wanted: dict[str, str]) -> list[str]:
    """Options of the fragments that the final .config does not have as asked."""
    have = {}
    for line in config_text.splitlines():
        m = FRAGMENT_LINE.match(line)
        if m:
            have[m.group(1)] = m.group(2)
    return sorted(name for name, value in wanted.items() if have.get(name) != value)


def _make(tree: Path, out: Path, log: Path, *targets: str) -> None:
    cmd = ["make", "-C", str(tree), f"O={out}", f"-j{os.cpu_count() or 1}", *targets]
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        raise InfraError(
            f"'make {' '.join(targets)}' failed in {tree}: {lines[-1] if lines else ''}",
            f"read {log}; the build needs gcc, make, flex, bison, bc, libelf-dev and libssl-dev",
        )


def build_tree(tree: Path, fragments: list[Path], cache: Path, log_dir: Path) -> TreeBuild:
    tree = tree.resolve()
    if not (tree / "Makefile").is_file():
        raise InfraError(
            f"--kernel {tree} is a directory without a Makefile",
            "pass a kernel source tree (with Makefile and Kconfig) or a bzImage",
        )
    if not is_source_tree(tree) or not (tree / "arch" / "x86").is_dir():
        raise InfraError(
            f"--kernel {tree} is not a Linux source tree (no Kconfig or arch/x86)",
            "pass the top directory of a kernel source tree",
        )
    for tool in ("make", "gcc", "flex", "bison", "bc"):
        if shutil.which(tool) is None:
            raise InfraError(
                f"{tool} is not installed (needed to build a kernel)",
                "apt-get install gcc make flex bison bc libelf-dev libssl-dev",
            )
    out = cache / "kbuild" / hashlib.sha256(str(tree).encode()).hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"kbuild-{tree.name}.log"
    config = out / ".config"
    if not config.is_file():
        if (tree / ".config").is_file():
            shutil.copy(tree / ".config", config)
        else:
            _make(tree, out, log, "x86_64_defconfig")
    wanted = read_fragments(fragments)
    text = config.read_text()
    if missing_options(text, wanted):
        with config.open("a") as f:
            f.write("\n# merged by residency-kselftest\n")
            f.writelines(f"{k}={v}\n" for k, v in wanted.items())
        _make(tree, out, log, "olddefconfig")
    missing = missing_options(config.read_text(), wanted)
    if missing:
        raise InfraError(
            f"the config of {tree} cannot enable {', '.join(missing)} (unmet dependencies "
            "or options this tree does not have)",
            f"enable their dependencies in {config} (make -C {tree} O={out} menuconfig), "
            "or use a tree that has them",
        )
    start = time.monotonic()
    _make(tree, out, log, "bzImage")
    seconds = time.monotonic() - start
    image = out / "arch" / "x86" / "boot" / "bzImage"
    git = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    source = TreeSource(
        tree=str(tree),
        build_dir=str(out),
        config_sha256=sha256_file(config),
        build_seconds=f"{seconds:.0f}",
        build_log=str(log),
        git_commit=git.stdout.strip() if git.returncode == 0 else None,
    )
    return TreeBuild(image, image_version_string(image), source)
