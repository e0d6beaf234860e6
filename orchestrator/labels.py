"""Kernel labels: the name a kernel has in every report and in JUnit classnames.

A label stays the same across builds of the same thing, so Jenkins keeps one test history
per kernel: `--kernel NAME=SPEC` names it; otherwise a Debian preset is `debian-NAME`, a
source tree its git branch (or its directory's name when detached, as during a bisect),
and an image a name made from its path.  `uname -r`, versions and hashes stay in the
kernel's identity, never in its label."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InfraError

LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
_PREFIX = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.+-]*)=(.*)", re.S)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class KernelSpec:
    """One --kernel value: what to test and, if given, its label."""

    spec: str | None
    label: str | None = None


def parse_kernel_option(value: str) -> KernelSpec:
    """`NAME=SPEC` or a plain `SPEC` (a path holding '/' before its '=' stays a path)."""
    m = _PREFIX.fullmatch(value)
    if m is None and "=" in value.split("/", 1)[0]:
        name = value.split("=", 1)[0]
        raise InfraError(
            f"--kernel label {name!r} has characters a label cannot have",
            "use letters, digits and _ . + - (starting with a letter or digit, at most 64), "
            "e.g. --kernel mybranch=~/src/linux",
        )
    if m is None:
        return KernelSpec(value)
    name, spec = m.group(1), m.group(2)
    if not LABEL.fullmatch(name):
        raise InfraError(
            f"--kernel label {name!r} is longer than 64 characters", "use a shorter label"
        )
    if not spec:
        raise InfraError(f"--kernel {value!r} names no kernel", f"write it as {name}=SPEC")
    return KernelSpec(spec, name)


def check_unique(labels: list[str]) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise InfraError(
                f"two kernels of the run are labelled {label!r}",
                "give each its own label: --kernel NAME=SPEC",
            )
        seen.add(label)


def safe(text: str) -> str:
    """@text made into a label."""
    return _UNSAFE.sub("_", text).strip("_.+-")[:64] or "kernel"


def _git_branch(tree: Path) -> str | None:
    """The branch checked out in @tree's git work tree, None when detached or not git."""
    git = tree / ".git"
    if git.is_file():  # a worktree: "gitdir: <path>"
        text = git.read_text(errors="replace").strip()
        if not text.startswith("gitdir:"):
            return None
        git = (tree / text.removeprefix("gitdir:").strip()).resolve()
    try:
        head = (git / "HEAD").read_text(errors="replace").strip()
    except OSError:
        return None
    if not head.startswith("ref: refs/heads/"):
        return None
    return head.removeprefix("ref: refs/heads/")


def tree_label(tree: Path) -> str:
    """A source tree (or build directory): its branch, else its directory's name."""
    tree = tree.resolve()
    return safe(_git_branch(tree) or tree.name)


def image_label(image: Path) -> str:
    """A kernel image: from its path.  `<tree>/arch/<arch>/boot/bzImage` is named after the
    tree (as a tree would be); any other image after its file name."""
    image = image.absolute()
    parts = image.parts
    if len(parts) >= 4 and parts[-4] == "arch" and parts[-2] == "boot":
        return tree_label(image.parents[3])
    return safe(image.name)
