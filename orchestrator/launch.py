"""Start a QEMU command on a pseudo-terminal, with its console log and, for a lean guest, its
boot files as memfd copies.

This is the part of a guest's start (boot.QemuGuest.start) that booting ahead (ahead.py)
runs before pytest and the rest of the orchestrator are loaded, so it imports little: each
module imported before QEMU starts delays the guest.  pexpect takes the process over later
(boot.QemuGuest.take).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TextIO

import ptyprocess


class Launch:
    """A QEMU process just started: its command (with the cached boot files, as logged),
    its pty, the scratch directory of its swap disk, its console log, and the memfd copies
    of its boot files (None where it reads the file itself)."""

    def __init__(
        self,
        command: list[str],
        workdir: Path,
        proc: ptyprocess.PtyProcess,
        log: TextIO,
        log_path: Path,
        copies: list[int | None],
    ) -> None:
        self.command = command
        self.workdir = workdir
        self.proc = proc
        self.log = log
        self.log_path = log_path
        self.copies = copies
        self.started = time.monotonic()

    def kill(self) -> None:
        """End it before anything took it over (a guest booted ahead that nobody wants)."""
        with contextlib.suppress(OSError):
            os.kill(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.close(force=True)
        drop_copies(self.copies)
        self.log.close()
        remove_workdir(self.workdir)


def launch(command: list[str], workdir: Path, log_path: Path, lean: bool) -> Launch:
    """Start @command, its swap disk in @workdir, appending its console to @log_path.

    QEMU maps -kernel and -initrd and keeps them for a reset, which with -no-reboot never
    comes.  A lean guest (its programs fill its RAM) gets copies, emptied once it is ready
    (drop_copies), so that the boot files do not count in QEMU's memory while its RAM fills.
    The others map the cached files: their pages are the page cache's, shared with every
    other QEMU of the kernel, and copying a 50 MB vmlinux cost 30 ms before QEMU could start.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a", encoding="utf-8", errors="replace")
    log.write(f"# {' '.join(command)}\n")
    log.flush()
    argv, copies = list(command), []
    if lean:
        for option in ("-kernel", "-initrd"):
            if option in argv[:-1]:
                at = argv.index(option) + 1
                fd = _memory_copy(Path(argv[at]))
                copies.append(fd)
                if fd is not None:
                    argv[at] = f"/proc/{os.getpid()}/fd/{fd}"
    try:
        proc = ptyprocess.PtyProcess.spawn(argv, echo=False, preexec_fn=_die_with_parent)
    except BaseException:
        drop_copies(copies)
        log.close()
        raise
    return Launch(command, workdir, proc, log, log_path, copies)


def drop_copies(copies: list[int | None]) -> None:
    """Empty and close the copies of the boot files: the pages QEMU mapped go."""
    for fd in copies:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            with contextlib.suppress(OSError):
                os.close(fd)
    copies.clear()


def remove_workdir(workdir: Path) -> None:
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


def _memory_copy(path: Path) -> int | None:
    """A memfd holding @path's bytes (QEMU opens it as /proc/<pid>/fd/<fd>), or None where
    there is no memfd: QEMU then reads @path itself."""
    try:
        fd = os.memfd_create(f"residency-{path.name}", os.MFD_CLOEXEC)
    except OSError:
        return None
    try:
        with path.open("rb") as src:
            size, offset = os.fstat(src.fileno()).st_size, 0
            while offset < size:
                sent = os.sendfile(fd, src.fileno(), offset, size - offset)
                if not sent:
                    break
                offset += sent
    except OSError:
        os.close(fd)
        return None
    return fd


def _die_with_parent() -> None:
    """In the QEMU child: get SIGKILL when the orchestrator dies, even by SIGKILL."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
