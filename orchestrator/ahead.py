"""Boot ahead: start the first guest of a run before the plan says which guest that is.

A run of one program spends about half a second in Python (pytest, the plan, the cache
checks) before its first QEMU starts, and then waits two seconds for the guest.  When the
same command was run before in this directory, on this host boot, its first guest is
known: the same QEMU command line, with the same kernel and initramfs files.  `start()`
boots that guest at once, before pytest is even imported; the plan is then made as
usual, and `adopt()` hands the guest to the first boot that asks for exactly that guest
(same VM settings, machine, files, and the files unchanged since).  Anything else (a
different guest, a changed file, a parallel run whose workers boot their own) discards it.
Nothing of the run depends on a guest booted ahead but its start time.

The record of a command's first guest (`remember()`) is kept in <cache>/ahead/, one small
JSON file per command line and directory.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .boot import QemuGuest
from .cache import default_cache_dir
from .qemu import Machine, VmConfig

# Options with which a run boots nothing, or boots what this module cannot know ahead.
NEVER = ("--help", "-h", "--collect-only", "--co", "--version", "-n", "--numprocesses")

_argv: list[str] | None = None  # set by start(): this process runs a command
_guest: QemuGuest | None = None  # the guest booted ahead, until adopted or discarded
_files: dict[str, list[int]] = {}  # its files' identities when it started


def _store() -> Path:
    return default_cache_dir() / "ahead"


def _key(argv: list[str]) -> str:
    where = [argv, os.getcwd(), str(Path(__file__).resolve().parent)]
    return hashlib.sha256(json.dumps(where).encode()).hexdigest()[:24]


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _identity(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _same_files(files: dict[str, list[int]]) -> bool:
    try:
        return all(_identity(path) == ident for path, ident in files.items())
    except OSError:
        return False


def start(argv: list[str]) -> None:
    """Boot the guest that this command's last run booted first, if it is known and its
    files are unchanged.  Never fails: a guest not booted ahead is booted later."""
    global _argv, _guest, _files
    if any(a in NEVER or a.startswith(("-n", "--numprocesses=")) for a in argv):
        return
    _argv = list(argv)
    key = _key(argv)
    try:
        record = json.loads((_store() / f"{key}.json").read_text())
        if record.get("boot_id") != _boot_id() or not _same_files(record["files"]):
            return
        cfg = VmConfig(**record["cfg"])
        log = _store() / f"{key}-{os.getpid()}.console.log"
        guest = QemuGuest(
            cfg, Path(record["image"]), Path(record["initramfs"]), log, record["append"],
            record["machine"],
        )  # fmt: skip
        guest.start()
    except (OSError, ValueError, KeyError, TypeError):
        return
    _guest, _files = guest, record["files"]
    atexit.register(discard)


def adopt(
    cfg: VmConfig, machine: Machine, image: Path, initramfs: Path, append: str, console_log: Path
) -> QemuGuest | None:
    """The guest booted ahead when it is exactly this one (it then logs to @console_log);
    else None, and a guest booted ahead is discarded: the run boots another."""
    global _guest
    guest = _guest
    if guest is None:
        return None
    _guest = None
    same = (cfg, machine, image, initramfs, append) == (
        guest.cfg, guest.machine, guest.image, guest.initramfs, guest.append
    )  # fmt: skip
    if not same or not guest.alive or not _same_files(_files):
        _drop(guest)
        return None
    try:
        guest.move_log(console_log)
    except OSError:
        _drop(guest)
        return None
    guest.booted_ahead = True
    return guest


def discard() -> None:
    """Kill a guest booted ahead that nothing adopted (a parallel run, an error)."""
    global _guest
    if _guest is not None:
        _drop(_guest)
        _guest = None


def _drop(guest: QemuGuest) -> None:
    """Kill a guest nothing adopted, and its console log with it (nobody asked for it)."""
    guest.kill()
    with contextlib.suppress(OSError):
        guest.console_log.unlink(missing_ok=True)


# Records of commands not run for this long are deleted when another is written.
RECORD_DAYS = 30


def remember(guest: object) -> None:
    """Record @guest, the first guest of this command's run, for its next run."""
    if _argv is None or not isinstance(guest, QemuGuest):
        return
    image, initramfs = str(guest.image), str(guest.initramfs)
    record: dict[str, Any] = {
        "argv": _argv,
        "boot_id": _boot_id(),
        "cfg": asdict(guest.cfg),
        "machine": guest.machine,
        "image": image,
        "initramfs": initramfs,
        "append": guest.append,
    }
    with contextlib.suppress(OSError):
        record["files"] = {image: _identity(image), initramfs: _identity(initramfs)}
        path = _store() / f"{_key(_argv)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(path)
        old = time.time() - RECORD_DAYS * 86400
        for other in path.parent.iterdir():
            with contextlib.suppress(OSError):
                if other.stat().st_mtime < old:
                    other.unlink()
