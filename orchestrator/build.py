"""Step 2: build and install the kselftests (static binaries), cached by source content."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cache import hash_files, publish_dir
from .errors import InfraError
from .progress import SILENT, Progress

DEFAULT_TIMEOUT = 45  # the kselftest runner's default when `settings` has none


@dataclass(frozen=True)
class TestBuild:
    """An installed kselftest tree: what goes into the guest's /tests."""

    install_dir: Path
    programs: tuple[str, ...]
    timeout: int
    digest: str
    built_now: bool


def _source_files(selftests: Path) -> list[Path]:
    keep = {".c", ".h", ".mk", ".sh"}
    names = {"Makefile", "config", "settings"}
    files = []
    for path in selftests.rglob("*"):
        if path.is_file() and (path.suffix in keep or path.name in names):
            files.append(path)
    return files


_C_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)
_MAKE_INCLUDE = re.compile(r"^\s*-?s?include\s+(.+?)\s*$", re.M)
_INCLUDE_DIR = re.compile(r"(?:^|\s)-I\s*([^\s$]+)")
_LOCAL_HDRS = re.compile(r"^\s*LOCAL_HDRS\s*[+:?]?=\s*(.*)$", re.M)


def _makefiles(collection: Path) -> list[Path]:
    """The collection's Makefile and every makefile it includes, transitively.  Make
    resolves an include against its working directory, which is the collection."""
    found: list[Path] = []
    todo = [collection / "Makefile"]
    while todo:
        path = todo.pop().resolve()
        if path in found or not path.is_file():
            continue
        found.append(path)
        for line in _MAKE_INCLUDE.findall(path.read_text(errors="replace")):
            todo += [collection / word for word in line.split() if "$" not in word]
    return found


def _included_headers(sources: list[Path], include_dirs: list[Path]) -> set[Path]:
    """Every header the C files include, followed transitively: `#include "x"` from the
    including file's directory, then the -I directories; `#include <x>` from the -I
    directories only (system headers are the compiler's, part of its identity)."""
    seen: set[Path] = set()
    todo = [p for p in sources if p.suffix in (".c", ".h")]
    while todo:
        path = todo.pop()
        for kind, name in _C_INCLUDE.findall(path.read_text(errors="replace")):
            dirs = ([path.parent] if kind == '"' else []) + include_dirs
            header = next((d / name for d in dirs if (d / name).is_file()), None)
            if header is not None and header.resolve() not in seen:
                seen.add(header.resolve())
                todo.append(header.resolve())
    return seen


def build_inputs(collection: Path) -> list[Path]:
    """Every file building a kselftest directory reads: its own sources, the makefiles it
    includes (lib.mk), the headers its C files include wherever they are, and the
    LOCAL_HDRS it names."""
    collection = collection.resolve()
    makefiles = _makefiles(collection)
    texts = [m.read_text(errors="replace") for m in makefiles]
    include_dirs = [
        (collection / d).resolve() for text in texts for d in _INCLUDE_DIR.findall(text)
    ]
    local_hdrs = [
        collection / word
        for text in texts
        for line in _LOCAL_HDRS.findall(text)
        for word in line.split()
        if "$" not in word
    ]
    own = [p.resolve() for p in _source_files(collection)]
    files = set(own) | set(makefiles) | {p.resolve() for p in local_hdrs if p.is_file()}
    files |= _included_headers(own, include_dirs)
    return sorted(files)


def selftests_digest(collection: Path) -> str:
    """The cache key of a kselftest directory's build: the content of every input, the
    directory and the compiler."""
    return hash_files(build_inputs(collection), extra=f"{collection.resolve()} {_compiler_id()}")


def _compiler_id() -> str:
    try:
        out = subprocess.run(["gcc", "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InfraError("gcc is not installed", "apt-get install gcc make libc6-dev") from None
    return out.stdout.splitlines()[0] if out.stdout else ""


def read_settings_timeout(install_dir: Path) -> int:
    settings = install_dir / "settings"
    if settings.is_file():
        for line in settings.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "timeout" and value.strip().isdigit():
                return int(value.strip())
    return DEFAULT_TIMEOUT


def read_test_list(install_dir: Path) -> tuple[str, ...]:
    """Programs from kselftest-list.txt ('collection:program' lines), in order."""
    listing = install_dir / "kselftest-list.txt"
    programs = []
    for line in listing.read_text().splitlines():
        _, _, program = line.strip().partition(":")
        if program:
            programs.append(program)
    return tuple(programs)


def build_selftests(collection: Path, cache: Path, progress: Progress = SILENT) -> TestBuild:
    """`make install` a kselftest directory into a cache directory keyed by everything
    its build reads (build_inputs)."""
    if not (collection / "Makefile").is_file():
        raise InfraError(
            f"{collection} has no Makefile",
            "pass --selftests with a kselftest directory, or run from the repository root",
        )
    if shutil.which("make") is None:
        raise InfraError("make is not installed", "apt-get install make gcc libc6-dev")
    digest = selftests_digest(collection)
    final = cache / "selftests" / digest[:24]
    built_now = False
    if not (final / ".complete").is_file():
        (cache / "selftests").mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache / "selftests", prefix=".build-"))
        try:
            install = staging / "install"
            cmd = [
                "make", "-s", "-C", str(collection),
                f"OUTPUT={staging / 'build'}", f"INSTALL_PATH={install}", "install",
            ]  # fmt: skip
            with progress.task("selftests", f"selftests: make install ({collection.name})"):
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                log = (out.stdout + out.stderr).strip().splitlines()
                tail = log[-1] if log else f"exit {out.returncode}"
                raise InfraError(
                    f"building the selftests failed: {tail}",
                    f"run 'make -C {collection}' to see the whole error and fix it "
                    "(needs gcc, make and libc6-dev for static linking)",
                )
            (install / ".complete").write_text(digest + "\n")
            publish_dir(install, final)
            built_now = True
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    programs = read_test_list(final)
    if not programs:
        raise InfraError(
            f"{final}/kselftest-list.txt lists no programs",
            f"check TEST_GEN_PROGS in {collection}/Makefile",
        )
    return TestBuild(final, programs, read_settings_timeout(final), digest, built_now)
