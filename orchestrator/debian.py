"""Debian kernels through apt: the host suite's cloud kernel, and named presets.

Presets (qemu-images/kernel-presets.toml) are resolved with a private apt list directory
per preset, against the Debian mirror the host's apt sources already use, so the host's
own apt configuration is never changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import atomic_write_text, publish_dir
from .errors import InfraError
from .progress import SILENT, Progress, Task

META = "linux-image-cloud-amd64"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
LIST_MAX_AGE = 6 * 3600
HOST_LISTS = Path("/var/lib/apt/lists")


@dataclass(frozen=True)
class Preset:
    name: str
    suites: tuple[str, ...]
    version: str


@dataclass(frozen=True)
class FetchedKernel:
    tree: Path
    packages: tuple[tuple[str, str], ...]
    suite: str
    resolved: str = "apt"  # or how a cached resolution was reused

    def to_json(self) -> dict[str, object]:
        return {"tree": str(self.tree), "packages": self.packages, "suite": self.suite}

    @classmethod
    def from_json(cls, data: dict[str, Any], resolved: str) -> FetchedKernel:
        packages = tuple((str(p), str(v)) for p, v in data["packages"])
        return cls(Path(data["tree"]), packages, str(data["suite"]), resolved)


def load_presets(path: Path) -> dict[str, Preset]:
    data = tomllib.loads(path.read_text())
    return {
        name: Preset(name, tuple(p["suites"]), str(p["version"]))
        for name, p in data.get("debian", {}).items()
    }


def _run(cmd: list[str], cwd: Path | None = None, what: str = "") -> str:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InfraError(
            f"{cmd[0]} is not installed (Debian kernels are fetched with apt)",
            "run on Debian or Ubuntu, or pass --kernel PATH",
        ) from None
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        raise InfraError(
            f"{what or ' '.join(cmd[:3])} failed: {lines[-1] if lines else out.returncode}",
            "check that this machine reaches its Debian mirror and run 'apt-get update'",
        )
    return out.stdout


def _host_sources(etc: Path) -> list[tuple[str, list[str]]]:
    """(uri, suites) of every Debian entry in the host's apt sources (deb822 and one-line)."""
    entries: list[tuple[str, list[str]]] = []
    for path in sorted(etc.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                (k.strip(), v.strip())
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
                if not k.startswith("#") and v
            )
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    entries.append((uri, fields.get("Suites", "").split()))
    for path in [etc / "sources.list", *sorted(etc.glob("sources.list.d/*.list"))]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], [words[2]]))
    return entries


def host_mirrors(etc: Path = Path("/etc/apt")) -> dict[str, str]:
    """The archive and security mirror URIs the host uses for Debian."""
    mirrors: dict[str, str] = {}
    for uri, suites in _host_sources(etc):
        for suite in suites:
            if suite.endswith("-security"):
                mirrors.setdefault("security", uri.rstrip("/"))
            elif re.fullmatch(r"[a-z]+(-updates|-backports)?", suite) and "debian" in uri:
                mirrors.setdefault("archive", uri.rstrip("/"))
    if "archive" not in mirrors:
        raise InfraError(
            "the host's apt sources name no Debian mirror",
            "add a Debian archive to /etc/apt/sources.list(.d), or pass --kernel PATH",
        )
    return mirrors


class PrivateApt:
    """apt-get/apt-cache with their own sources and lists under the cache."""

    def __init__(self, root: Path, suites: tuple[str, ...]) -> None:
        self.root = root
        self.suites = suites

    def _options(self) -> list[str]:
        r = self.root
        return [
            "-o", f"Dir::Etc::SourceList={r / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={r / 'lists'}",
            "-o", f"Dir::Cache={r / 'cache'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Architecture=amd64",
            "-o", "Acquire::Languages=none",
            "-o", "APT::Sandbox::User=root",
        ]  # fmt: skip

    def prepare(self, force: bool = False) -> None:
        mirrors = host_mirrors()
        lines = []
        keyring = f"[signed-by={KEYRING}] " if KEYRING.is_file() else ""
        for suite in self.suites:
            uri = mirrors.get("security") if suite.endswith("-security") else mirrors["archive"]
            if uri:
                lines.append(f"deb {keyring}{uri} {suite} main\n")
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        sources = self.root / "sources.list"
        text = "".join(lines)
        changed = not sources.is_file() or sources.read_text() != text
        sources.write_text(text)
        if force or changed or not self.fresh():
            _run(["apt-get", *self._options(), "update"], what=f"apt-get update for {self.suites}")
            (self.root / "updated").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))

    def fresh(self) -> bool:
        """Were the lists updated less than LIST_MAX_AGE ago?"""
        stamp = self.root / "updated"
        return stamp.is_file() and time.time() - stamp.stat().st_mtime < LIST_MAX_AGE

    def cmd(self, tool: str, *args: str) -> list[str]:
        return [tool, *self._options(), *args]


def _versions(apt_cache: list[str], package: str) -> list[tuple[str, str]]:
    """(version, suite) newest first, as apt-cache madison lists them."""
    out = _run([*apt_cache, "madison", package], what=f"apt-cache madison {package}")
    found = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3:
            found.append((parts[1], parts[2].split()[1].split("/")[0]))
    return found


def _exists(apt_cache: list[str], package: str, version: str) -> bool:
    out = subprocess.run(
        [*apt_cache, "show", f"{package}={version}"], capture_output=True, text=True, check=False
    )
    return out.returncode == 0 and "Package:" in out.stdout


def newest(apt_cache: list[str], version_prefix: str) -> tuple[str, str]:
    """The newest (version, suite) of the cloud kernel meta package for a version prefix."""
    pattern = re.compile(rf"^{re.escape(version_prefix)}[.~]")
    candidates = [(v, s) for v, s in _versions(apt_cache, META) if pattern.match(v)]
    if not candidates:
        raise InfraError(
            f"apt knows no {META} of version {version_prefix}",
            "check that this machine reaches its Debian mirror, or pass --kernel PATH",
        )
    return candidates[0]


def resolve_packages(apt_cache: list[str], version: str) -> list[tuple[str, str]]:
    """The unsigned image (and modules) packages behind one version of the meta package."""
    show = _run([*apt_cache, "show", f"{META}={version}"], what=f"apt-cache show {META}")
    m = re.search(r"linux-image-(\S+?-cloud-amd64) \(= ", show)
    if not m:
        raise InfraError(f"{META} {version} depends on no kernel image", "report this preset")
    release = m.group(1)
    packages = [(f"linux-image-{release}-unsigned", version)]
    if _exists(apt_cache, *packages[0]):
        return packages
    packages = [
        (f"linux-binary-unsigned-{release}", version),
        (f"linux-modules-{release}", version),
    ]
    for package in packages:
        if not _exists(apt_cache, *package):
            raise InfraError(
                f"neither linux-image-{release}-unsigned nor {package[0]} {version} exists",
                "report this preset",
            )
    return packages


def _package_size(apt_get: list[str], package: str, version: str) -> int | None:
    """The .deb's size in bytes, as apt-cache (with the same options as @apt_get) says."""
    apt_cache = ["apt-cache", *apt_get[1:]]
    out = subprocess.run(
        [*apt_cache, "show", f"{package}={version}"], capture_output=True, text=True, check=False
    )
    m = re.search(r"^Size:\s*(\d+)", out.stdout, re.M)
    return int(m.group(1)) if m else None


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _download(apt_get: list[str], package: str, version: str, where: Path, task: Task) -> None:
    """apt-get download, showing on @task how much of the package has arrived."""
    size = _package_size(apt_get, package, version)
    total = f" of {_megabytes(size)}" if size else ""
    cmd = [*apt_get, "download", f"{package}={version}"]
    what = f"apt-get download {package}={version}"
    try:
        child = subprocess.Popen(
            cmd, cwd=where, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    except FileNotFoundError:
        _run(cmd, what=what)  # says what is missing
        return
    while True:
        try:
            out, err = child.communicate(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            got = sum(p.stat().st_size for p in where.glob("*.deb") if p.is_file())
            task.update(f"{_megabytes(got)}{total}")
    if child.returncode != 0:
        lines = (err or out).strip().splitlines()
        raise InfraError(
            f"{what} failed: {lines[-1] if lines else child.returncode}",
            "check that this machine reaches its Debian mirror and run 'apt-get update'",
        )
    task.finish(_megabytes(size) if size else "done")


def fetch(
    apt_get: list[str], packages: list[tuple[str, str]], cache: Path, progress: Progress = SILENT
) -> Path:
    """Download and unpack the packages into one cached tree (once)."""
    key = "+".join(f"{p}_{v}" for p, v in packages)
    final = cache / "kernels" / re.sub(r"[^A-Za-z0-9_.+-]", "_", key)
    if (final / ".complete").is_file():
        return final
    (cache / "kernels").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache / "kernels", prefix=".fetch-"))
    try:
        tree = staging / "tree"
        for package, version in packages:
            with progress.task("debian", f"download {package} {version}") as task:
                _download(apt_get, package, version, staging, task)
        debs = sorted(staging.glob("*.deb"))
        if len(debs) != len(packages):
            raise InfraError(f"apt-get download gave {len(debs)} files", "retry the run")
        for deb in debs:
            with progress.task("debian", f"unpack {deb.name}"):
                _run(["dpkg-deb", "-x", str(deb), str(tree)], what=f"dpkg-deb -x {deb.name}")
        (tree / ".complete").write_text(key + "\n")
        publish_dir(tree, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def lists_fingerprint(lists: Path) -> str:
    """What apt's package lists in @lists are now (names, sizes, times); '' when there are
    none.  The same fingerprint means apt would resolve a package to the same version."""
    try:
        files = sorted(p for p in lists.iterdir() if p.is_file() and p.name != "lock")
    except OSError:
        return ""
    digest = hashlib.sha256()
    for path in files:
        st = path.stat()
        digest.update(f"{path.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return digest.hexdigest() if files else ""


def resolve_once(
    record: Path, lists: Path, resolve: Callable[[], FetchedKernel], refresh: bool = False
) -> FetchedKernel:
    """Resolve a kernel through apt once and reuse the answer while apt's lists in @lists
    stay the same (unless @refresh), or while apt cannot answer at all (an offline machine
    with a warm cache): the kernel it names is already unpacked in the cache."""
    saved: dict[str, Any] | None = None
    try:
        saved = json.loads(record.read_text())
        if not (Path(saved["tree"]) / ".complete").is_file():
            saved = None
    except (OSError, ValueError, KeyError, TypeError):
        saved = None
    fingerprint = lists_fingerprint(lists)
    if saved and not refresh and fingerprint and saved.get("lists") == fingerprint:
        return FetchedKernel.from_json(saved, "cache: apt lists unchanged since it was resolved")
    try:
        fetched = resolve()
    except InfraError as e:
        if saved is None:
            raise
        return FetchedKernel.from_json(saved, f"cache: apt could not resolve it ({e.cause})")
    data = fetched.to_json() | {"lists": lists_fingerprint(lists)}
    atomic_write_text(record, json.dumps(data) + "\n")
    return fetched


def fetch_host_default(
    cache: Path, refresh: bool = False, progress: Progress = SILENT
) -> FetchedKernel:
    """The host suite's cloud kernel, resolved with the host's own lists (once per change
    of those lists)."""
    return resolve_once(
        cache / "resolved" / "host-default.json", host_lists_dir(),
        lambda: _fetch_host_default(cache, progress), refresh,
    )  # fmt: skip


def host_lists_dir() -> Path:
    """Where the host's apt keeps its package lists (Dir::State::Lists, as APT_CONFIG and
    apt.conf.d say)."""
    try:
        out = subprocess.run(
            ["apt-config", "shell", "LISTS", "Dir::State::Lists/d"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
    except FileNotFoundError:
        return HOST_LISTS
    m = re.search(r"LISTS='([^']*)'", out)
    return Path(m.group(1)) if m else HOST_LISTS


def _fetch_host_default(cache: Path, progress: Progress) -> FetchedKernel:
    """The cloud kernel the host's own suite ships (apt's candidate), with the host's lists."""
    policy = _run(["apt-cache", "policy", META], what=f"apt-cache policy {META}")
    m = re.search(r"Candidate:\s*(\S+)", policy)
    if not m or m.group(1) == "(none)":
        raise InfraError(f"apt knows no {META}", "run 'apt-get update' (as root)")
    version = m.group(1)
    suites = [s for v, s in _versions(["apt-cache"], META) if v == version]
    packages = resolve_packages(["apt-cache"], version)
    tree = fetch(["apt-get"], packages, cache, progress)
    return FetchedKernel(tree, tuple(packages), suites[0] if suites else "")


def fetch_preset(
    preset: Preset, cache: Path, refresh: bool = False, progress: Progress = SILENT
) -> FetchedKernel:
    """A preset's kernel, resolved with its private lists (once per change of them)."""
    apt = PrivateApt(cache / "apt" / preset.name, preset.suites)
    record = cache / "resolved" / f"preset-{preset.name}.json"
    # Its lists are refreshed after LIST_MAX_AGE: until then the answer stands.
    return resolve_once(
        record, apt.root / "lists", lambda: _fetch_preset(preset, apt, cache, refresh, progress),
        refresh or not apt.fresh(),
    )  # fmt: skip


def _fetch_preset(
    preset: Preset, apt: PrivateApt, cache: Path, refresh: bool, progress: Progress
) -> FetchedKernel:
    with progress.task("debian", f"apt lists of debian:{preset.name}") as task:
        task.finish("fresh" if apt.fresh() and not refresh else "updated")
        apt.prepare(force=refresh)
    for attempt in (1, 2):
        try:
            version, suite = newest(apt.cmd("apt-cache"), preset.version)
            packages = resolve_packages(apt.cmd("apt-cache"), version)
            tree = fetch(apt.cmd("apt-get"), packages, cache, progress)
            return FetchedKernel(tree, tuple(packages), suite)
        except InfraError:
            if attempt == 2:
                raise
            # The mirror may have moved on since the lists were fetched: refresh once.
            apt.prepare(force=True)
    raise AssertionError("unreachable")
