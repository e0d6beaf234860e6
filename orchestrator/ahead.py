"""Boot ahead: start the first guest of a run before the plan says which guest that is.

A run of one program spends about half a second in Python (pytest, the plan, the cache
checks) before its first QEMU starts, and then waits two seconds for the guest.  When the
same command was run before in this directory, on this host boot, its first guest is
known: the same QEMU command line, with the same kernel and initramfs files.  `start()`
boots that guest at once, before pytest is even imported (it imports only what starting
QEMU needs, launch.py); the plan is then made as usual, and `adopt()` hands the guest to
the first boot whose QEMU command is exactly the one started (same VM settings, machine,
files and options), with the files unchanged since.  Anything else (a different guest, a
changed file, a parallel run whose workers boot their own) discards it.  Nothing of the
run depends on a guest booted ahead but its start time.

The record of a command's first guest (`remember()`) is kept in <cache>/ahead/, one small
JSON file per command line and directory.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import default_cache_dir
from .launch import Launch, launch, remove_workdir
from .swap import write_swap_image

if TYPE_CHECKING:  # imported by adopt(): before QEMU starts, every module imported delays it
    from .boot import QemuGuest
    from .qemu import Machine, VmConfig

# Options with which a run boots nothing, or boots what this module cannot know ahead.
NEVER = ("--help", "-h", "--collect-only", "--co", "--version", "-n", "--numprocesses")
# Where a recorded QEMU command has its guest's scratch directory (its swap disk).
WORKDIR = "{workdir}"

_argv: list[str] | None = None  # set by start(): this process runs a command
_started: Launch | None = None  # the QEMU started ahead, until adopted or discarded
_files: dict[str, list[int]] = {}  # its boot files' identities when it started


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
    """Start the QEMU that this command's last run started first, if it is known and its
    files are unchanged.  Never fails: a guest not booted ahead is booted later."""
    global _argv, _started, _files
    if any(a in NEVER or a.startswith(("-n", "--numprocesses=")) for a in argv):
        return
    _argv = list(argv)
    key = _key(argv)
    try:
        record = json.loads((_store() / f"{key}.json").read_text())
        if record.get("boot_id") != _boot_id() or not _same_files(record["files"]):
            return
        workdir = Path(tempfile.mkdtemp(prefix="residency-vm-"))
        log = _store() / f"{key}-{os.getpid()}.console.log"
        try:
            if record["swap_mb"] > 0:
                write_swap_image(workdir / "swap.img", int(record["swap_mb"]))
            command = [str(a).replace(WORKDIR, str(workdir)) for a in record["command"]]
            started = launch(command, workdir, log, bool(record["lean"]))
        except BaseException:
            remove_workdir(workdir)
            log.unlink(missing_ok=True)
            raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return
    _started, _files = started, record["files"]
    atexit.register(discard)


def adopt(
    cfg: VmConfig, machine: Machine, image: Path, initramfs: Path, append: str, console_log: Path
) -> QemuGuest | None:
    """The guest booted ahead when its QEMU command is exactly this guest's (it then logs
    to @console_log); else None, and a guest booted ahead is discarded: the run boots
    another."""
    global _started
    from .boot import QemuGuest

    started = _started
    if started is None:
        return None
    _started = None
    guest = QemuGuest(cfg, image, initramfs, console_log, append, machine)
    same = guest.command_in(started.workdir) == started.command
    if not same or not started.proc.isalive() or not _same_files(_files):
        _drop(started)
        return None
    guest.take(started)
    try:
        guest.move_log(console_log)
    except OSError:
        guest.kill()
        started.log_path.unlink(missing_ok=True)
        return None
    guest.booted_ahead = True
    return guest


def discard() -> None:
    """Kill a guest booted ahead that nothing adopted (a parallel run, an error)."""
    global _started
    if _started is not None:
        _drop(_started)
        _started = None


def _drop(started: Launch) -> None:
    """Kill a guest nothing adopted, and its console log with it (nobody asked for it)."""
    started.kill()
    with contextlib.suppress(OSError):
        started.log_path.unlink(missing_ok=True)


# Records of commands not run for this long are deleted when another is written.
RECORD_DAYS = 30


def remember(guest: object) -> None:
    """Record @guest, the first guest of this command's run, for its next run: its QEMU
    command, which the next run starts as it is and adopts only if it would run exactly
    that command (same VM settings, machine, files and options of this code)."""
    from .boot import QemuGuest

    if _argv is None or not isinstance(guest, QemuGuest) or guest.workdir is None:
        return
    image, initramfs = str(guest.image), str(guest.initramfs)
    workdir = str(guest.workdir)
    record: dict[str, Any] = {
        "argv": _argv,
        "boot_id": _boot_id(),
        "command": [a.replace(workdir, WORKDIR) for a in guest.command],
        "swap_mb": guest.cfg.swap_mb,
        "lean": guest.cfg.lean,
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
