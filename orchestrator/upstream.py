"""The kernel's own selftest header, from Debian's linux-source-<version> package.

The project's tests compare our ``selftests/kselftest.h`` with upstream's; upstream's is
never committed but taken from the Debian package at test time: the private apt of
:mod:`orchestrator.debian` (its own lists under the cache, against the host's Debian mirror)
downloads ``linux-source-<version>``, only ``tools/testing/selftests/kselftest.h`` is taken
out of the source tarball inside it, and that one file is kept in the cache, so a second
call downloads nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .cache import atomic_write_bytes, atomic_write_text, default_cache_dir
from .debian import LIST_MAX_AGE, PrivateApt, _run, _versions
from .errors import InfraError

HEADER = "tools/testing/selftests/kselftest.h"

# The Debian suites that carry each linux-source-<version> we compare with.
SUITES: dict[str, tuple[str, ...]] = {
    "7.3": ("sid", "experimental"),
    "6.12": ("trixie", "trixie-security"),
}


@dataclass(frozen=True)
class UpstreamHeader:
    version: str
    """The kernel series asked for, e.g. '7.3'."""
    package: str
    """The Debian package, e.g. 'linux-source-7.3'."""
    package_version: str
    """Its version, e.g. '7.3~rc7-1~exp1'."""
    path: Path
    """The extracted kselftest.h, in the cache (its directory can go on -I)."""
    downloaded: bool
    """Whether this call downloaded the package (False: the cached header was used)."""


def _cache_key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)


@contextlib.contextmanager
def _source_entries(
    deb: Path, package: str
) -> Iterator[Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]]:
    """The entries of the source tarball inside a linux-source .deb, read as one stream
    (no 1.5 GB tree on disk): (path below the tree's top, entry, its tarfile).  Reading
    may stop at any point; a damaged package is an InfraError."""
    inner = f"./usr/src/{package}.tar.xz"
    proc = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    stdout = proc.stdout

    def entries() -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
        with tarfile.open(fileobj=stdout, mode="r|") as outer:
            for member in outer:
                source: IO[bytes] | None = outer.extractfile(member)
                if member.name != inner or source is None:
                    continue
                with tarfile.open(fileobj=source, mode="r|xz") as tree:
                    for entry in tree:
                        parts = entry.name.split("/", 1)
                        if len(parts) == 2 and ".." not in parts[1].split("/"):
                            yield parts[1], entry, tree
                return
        raise InfraError(f"{deb.name} holds no {inner}", "report this")

    try:
        yield entries()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise InfraError(f"cannot read {deb.name}: {e}", "delete the cache and retry") from None
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        stdout.close()


def _header_from_deb(deb: Path, package: str) -> bytes:
    """kselftest.h from the source tarball inside a linux-source .deb, read until it is
    found."""
    with _source_entries(deb, package) as entries:
        for path, entry, tree in entries:
            data = tree.extractfile(entry) if path == HEADER and entry.isfile() else None
            if data is not None:
                return data.read()
    raise InfraError(f"{deb.name}: the source tarball holds no {HEADER}", "report this")


def unpack_source_deb(deb: Path, base: Path) -> Path:
    """Unpack the whole kernel tree of a downloaded linux-source .deb into @base (the tree
    lands in @base/linux-source-X.Y); the .deb is removed.  Returns the tree."""
    pkg = base / "pkg"
    _run(["dpkg-deb", "-x", str(deb), str(pkg)], what=f"dpkg-deb -x {deb.name}")
    tarball = next(pkg.rglob("linux-source-*.tar.*"), None)
    if tarball is None:
        raise InfraError(f"{deb.name} holds no linux-source tarball", "report this")
    with tarfile.open(tarball) as tar:
        tar.extractall(base, filter="tar")
    shutil.rmtree(pkg)
    deb.unlink()
    return base / tarball.name.split(".tar.")[0]


def _resolve(apt: PrivateApt, package: str) -> str:
    """The newest version of the package the private apt lists know."""
    found = _versions(apt.cmd("apt-cache"), package)
    if not found:
        raise InfraError(
            f"apt knows no {package} in {', '.join(apt.suites)}",
            "check that this machine reaches its Debian mirror",
        )
    return found[0][0]


def _fetch_once(
    version: str,
    cache: Path | None,
    what: str,
    ready: Callable[[Path], bool],
    make: Callable[[Path, str, Path, Path], None],
) -> tuple[str, str, Path, bool]:
    """Something made from Debian's ``linux-source-<version>`` and kept in the cache, at
    ``<cache>/upstream/<package>/<package version>/<what>``: (package, package version,
    its path, whether this call made it).  The newest package is looked up at most every
    ``LIST_MAX_AGE`` seconds; in between, and whenever the package version did not change,
    what is cached is used and nothing is downloaded.  @ready(path) says whether it is
    there; @make(deb, package, path, staging) makes it from the downloaded package, with a
    scratch directory.  Raises :class:`InfraError` when the package cannot be resolved,
    downloaded or read."""
    if version not in SUITES:
        raise InfraError(f"no Debian suites known for linux-source-{version}", "add to SUITES")
    cache = default_cache_dir() if cache is None else cache
    package = f"linux-source-{version}"
    base = cache / "upstream" / package
    stamp = base / f"{what}.resolved.json"

    def cached(package_version: str) -> Path:
        return base / _cache_key(package_version) / what

    if stamp.is_file():
        try:
            known = json.loads(stamp.read_text())
            path = cached(str(known["package_version"]))
            if time.time() - float(known["time"]) < LIST_MAX_AGE and ready(path):
                return package, str(known["package_version"]), path, False
        except (ValueError, KeyError, TypeError):
            pass  # a damaged stamp: resolve again

    apt = PrivateApt(cache / "apt" / f"upstream-{package}", SUITES[version])
    apt.prepare()
    package_version = _resolve(apt, package)
    path = cached(package_version)
    made = False
    if not ready(path):
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=base, prefix=".fetch-"))
        try:
            _run(
                apt.cmd("apt-get", "download", f"{package}={package_version}"),
                cwd=staging,
                what=f"apt-get download {package}={package_version}",
            )
            debs = sorted(staging.glob("*.deb"))
            if len(debs) != 1:
                raise InfraError(f"apt-get download gave {len(debs)} files", "retry")
            make(debs[0], package, path, staging)
            made = True
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    atomic_write_text(stamp, json.dumps({"package_version": package_version, "time": time.time()}))
    return package, package_version, path, made


def fetch_kselftest_header(version: str, cache: Path | None = None) -> UpstreamHeader:
    """Upstream's kselftest.h of kernel series ``version`` (a key of :data:`SUITES`), from
    the newest ``linux-source-<version>`` (see :func:`_fetch_once`)."""

    def make(deb: Path, package: str, path: Path, staging: Path) -> None:
        atomic_write_bytes(path, _header_from_deb(deb, package))

    package, package_version, path, made = _fetch_once(
        version, cache, "kselftest.h", Path.is_file, make
    )
    return UpstreamHeader(version, package, package_version, path, made)


# What `make -C tools/testing/selftests/mm` needs of a kernel tree, `make headers` included
# (a tree of about 130 MB instead of 1.5 GB): paths relative to the tree's top, a
# directory standing for everything under it.
MM_BUILD_PARTS: tuple[str, ...] = (
    "Makefile",
    "Kbuild",
    "Kconfig",
    "scripts/",
    "include/",
    "arch/Kconfig",
    "arch/x86/",
    "mm/gup_test.h",
    "lib/test_hmm_uapi.h",
    "tools/include/",
    "tools/arch/",
    "tools/scripts/",
    "tools/testing/selftests/",
)
MM_TREE_DONE = ".residency-mm-tree"


@dataclass(frozen=True)
class UpstreamTree:
    version: str
    """The kernel series asked for, e.g. '6.12'."""
    package: str
    """The Debian package, e.g. 'linux-source-6.12'."""
    package_version: str
    """Its version, e.g. '6.12.118-1'."""
    path: Path
    """The partial tree in the cache, with usr/include made: copy it before building."""
    fetched: bool
    """Whether this call downloaded and extracted it (False: the cached tree was used)."""


def _wanted(name: str) -> bool:
    return any(name == p or (p.endswith("/") and name.startswith(p)) for p in MM_BUILD_PARTS)


def _extract_parts(deb: Path, package: str, dest: Path) -> None:
    """The files of :data:`MM_BUILD_PARTS` from the source tarball inside a linux-source
    .deb into ``dest``."""
    inner = f"./usr/src/{package}.tar.xz"
    found = 0
    with _source_entries(deb, package) as entries:
        for path, entry, tree in entries:
            if not _wanted(path) or entry.isdir():
                continue
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.issym():
                target.symlink_to(entry.linkname)
            elif entry.isfile():
                data = tree.extractfile(entry)
                if data is not None:
                    target.write_bytes(data.read())
                    target.chmod(0o755 if entry.mode & 0o111 else 0o644)
                    found += 1
    if not found or not (dest / "tools/testing/selftests/mm/Makefile").is_file():
        raise InfraError(f"{deb.name}: no tools/testing/selftests/mm in {inner}", "report this")


def fetch_mm_tree(version: str, cache: Path | None = None) -> UpstreamTree:
    """The parts of Debian's ``linux-source-<version>`` that building its mm selftests
    needs (:data:`MM_BUILD_PARTS`), extracted once into the cache, with ``make headers``
    run there once; later calls reuse it (see :func:`_fetch_once`).  Never modify the
    returned tree: copy it.  Raises :class:`InfraError` when the package cannot be had or
    ``make headers`` fails."""

    def ready(path: Path) -> bool:
        return (path / MM_TREE_DONE).is_file()

    def make(deb: Path, package: str, path: Path, staging: Path) -> None:
        tree = staging / "mm-tree"
        _extract_parts(deb, package, tree)
        _run(["make", "-s", "-C", str(tree), "headers"], what=f"make headers ({package})")
        (tree / MM_TREE_DONE).write_text(path.parent.name + "\n")
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        tree.rename(path)

    package, package_version, path, made = _fetch_once(version, cache, "mm-tree", ready, make)
    return UpstreamTree(version, package, package_version, path, made)
