"""What a kernel source directory is, and what its configuration gives us.

A developer's `--kernel DIR` comes in four shapes: a pristine source tree; a tree that is
configured (it has a .config) or built in place; a separate build directory made with
`make O=DIR` (it holds the .config and a `source` link back to its tree); and any of the
built ones whose bzImage is newer than everything it was built from.  This module tells
them apart, reads the configuration kbuild really uses, checks it against the options the
tests and the guest need, and pulls the first real error out of a failed build's log.
It only reads: building is source.py's job.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import InfraError

Kind = Literal["pristine", "configured", "built", "objdir"]
OPTION = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
NOT_SET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
IMAGE = Path("arch/x86/boot/bzImage")
# Files a kernel image is built from; whatever else a tree holds (objects, modules, logs
# written after the image) says nothing about whether the image is stale.
SOURCE_SUFFIXES = (".c", ".h", ".S", ".lds", ".rs", ".y", ".l")
SOURCE_NAMES = ("Makefile", "Kbuild", "Kconfig")


@dataclass(frozen=True)
class TreeShape:
    kind: Kind
    source: Path  # the source tree
    objdir: Path  # where .config and the build's output live (== source when in place)

    @property
    def config(self) -> Path:
        return self.objdir / ".config"

    @property
    def image(self) -> Path:
        return self.objdir / IMAGE

    def describe(self) -> str:
        return {
            "pristine": f"pristine source tree {self.source}",
            "configured": f"configured source tree {self.source}",
            "built": f"source tree {self.source}, built in place",
            "objdir": f"build directory {self.objdir} (make O=) of {self.source}",
        }[self.kind]


def is_source_tree(path: Path) -> bool:
    return (path / "Makefile").is_file() and (path / "Kconfig").is_file()


def detect(path: Path) -> TreeShape:
    """The shape of @path, or InfraError naming what it is not."""
    path = path.resolve()
    link = path / "source"
    if link.is_symlink() and (path / ".config").is_file():
        source = link.resolve()
        if not is_source_tree(source):
            raise InfraError(
                f"--kernel {path} looks like a make O= build directory, but its source "
                f"link points to {source}, which is not a kernel source tree",
                "pass the build directory of an existing tree, or the tree itself",
            )
        return TreeShape("objdir", source, path)
    if not (path / "Makefile").is_file():
        raise InfraError(
            f"--kernel {path} is a directory without a Makefile",
            "pass a kernel source tree (with Makefile and Kconfig), its make O= build "
            "directory, or a bzImage",
        )
    if not is_source_tree(path) or not (path / "arch" / "x86").is_dir():
        raise InfraError(
            f"--kernel {path} is not a Linux source tree (no Kconfig or arch/x86)",
            "pass the top directory of a kernel source tree",
        )
    if not (path / ".config").is_file():
        return TreeShape("pristine", path, path)
    # include/config/auto.conf is no sign of a build: make olddefconfig writes it too
    built = (path / "vmlinux").is_file()
    return TreeShape("built" if built else "configured", path, path)


def parse_config(text: str) -> dict[str, str]:
    """CONFIG_X -> its value ('y', 'm', '"text"', '4'; 'n' for '# ... is not set')."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = OPTION.match(line.strip())
        if m:
            values[m.group(1)] = m.group(2)
            continue
        m = NOT_SET.match(line.strip())
        if m:
            values[m.group(1)] = "n"
    return values


def effective_config(shape: TreeShape) -> dict[str, str]:
    """The options kbuild builds with: include/config/auto.conf when it is at least as new
    as .config (it is what the last build used), else .config itself."""
    auto = shape.objdir / "include/config/auto.conf"
    config = shape.config
    if auto.is_file() and (not config.is_file() or auto.stat().st_mtime >= config.stat().st_mtime):
        return parse_config(auto.read_text(errors="replace"))
    return parse_config(config.read_text(errors="replace")) if config.is_file() else {}


@dataclass(frozen=True)
class Requirement:
    option: str
    wanted: str
    have: str  # 'n' when absent
    fragment: Path


def read_fragment(fragment: Path) -> dict[str, str]:
    return {k: v for k, v in parse_config(fragment.read_text()).items() if v != "n"}


# The guest options whose drivers the initramfs can load as modules (image.GUEST_MODULES
# and what they depend on); everything else the guest needs must be built in.
MODULE_OPTIONS = frozenset({"CONFIG_VIRTIO", "CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_BLK"})


def wants_modules(config: dict[str, str]) -> bool:
    """Does the guest need modules of this kernel (a disk driver built as a module)?"""
    return any(config.get(option) == "m" for option in MODULE_OPTIONS)


def unmet(config: dict[str, str], tests: Path, guest: Path, modules_ok: bool) -> list[Requirement]:
    """Options of the tests' and the guest's fragments that @config does not give.  The
    guest's disk drivers (MODULE_OPTIONS) may be =m when @modules_ok (the modules are built
    and loaded into the guest); everything else must be as asked."""
    missing: list[Requirement] = []
    seen: set[str] = set()
    for fragment, allow_module in ((tests, False), (guest, modules_ok)):
        for option, wanted in read_fragment(fragment).items():
            if option in seen:
                continue
            seen.add(option)
            have = config.get(option, "n")
            as_module = allow_module and option in MODULE_OPTIONS and have == "m"
            if have == wanted or (wanted == "y" and as_module):
                continue
            missing.append(Requirement(option, wanted, have, fragment))
    return missing


def merge_command(shape: TreeShape, fragments: list[Path]) -> str:
    """The commands that add the fragments' options to this tree's .config."""
    obj = "" if shape.objdir == shape.source else f" O={shape.objdir}"
    names = " ".join(str(f) for f in fragments)
    return (
        f"cd {shape.source} && scripts/kconfig/merge_config.sh -m"
        f"{' -O ' + str(shape.objdir) if obj else ''} {shape.config} {names}"
        f" && make{obj} olddefconfig"
    )


_ERROR_LINES = (
    re.compile(r"\berror:"),  # the compiler's or the linker's
    re.compile(r"^\*\*\* *\w"),  # kconfig and kbuild's own messages (not a bare '***')
    re.compile(r"\*\*\* \[.*\] Error \d+"),  # make naming the target that failed
    re.compile(r"\bError \d+\b"),
)


def first_error(log: str) -> str:
    """The first line of a failed build's log that says what went wrong: a compiler error
    first, then kbuild's '***' messages, then make's 'Error N' with its target."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for pattern in _ERROR_LINES:
        for line in lines:
            if pattern.search(line):
                return line[:300]
    return lines[-1][:300] if lines else ""


def newest_source_mtime(source: Path, skip: Path | None = None) -> float:
    """The newest modification time of the files an image is built from under @source
    (sources, headers, Makefiles, Kconfig), skipping .git and the @skip build directory."""
    newest = 0.0
    stack = [source]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git" and (skip is None or Path(entry.path) != skip):
                        stack.append(Path(entry.path))
                elif entry.name.endswith(SOURCE_SUFFIXES) or entry.name.startswith(SOURCE_NAMES):
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def image_is_current(shape: TreeShape) -> bool:
    """Is the built bzImage newer than its .config and every file it was built from?"""
    if shape.kind == "pristine" or not shape.image.is_file():
        return False
    built = shape.image.stat().st_mtime
    if shape.config.stat().st_mtime > built:
        return False
    skip = shape.objdir if shape.kind == "objdir" else None
    return newest_source_mtime(shape.source, skip) <= built
