"""Step 2: build and install the kselftests (static binaries), cached by source content."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cache import hash_files, publish_dir
from .errors import InfraError

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


def build_selftests(collection: Path, cache: Path) -> TestBuild:
    """`make install` a kselftest directory into a cache directory keyed by its sources
    (and the shared kselftest.h/lib.mk it includes)."""
    if not (collection / "Makefile").is_file():
        raise InfraError(
            f"{collection} has no Makefile",
            "pass --selftests with a kselftest directory, or run from the repository root",
        )
    if shutil.which("make") is None:
        raise InfraError("make is not installed", "apt-get install make gcc libc6-dev")
    shared = Path(__file__).resolve().parent.parent / "selftests"
    sources = _source_files(collection) + [p for p in _source_files(shared) if p.parent == shared]
    digest = hash_files(sources, extra=f"{collection.resolve()} {_compiler_id()}")
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
