"""Ctrl-C and SIGTERM end a run at once, with whole reports.

Every process of a run (the controller and each xdist worker) handles both signals the
same way: pass SIGINT on to its own children (QEMU, or the xdist workers, which in turn
pass it to their QEMU), then raise KeyboardInterrupt so pytest ends the session and the
controller writes its reports.  QEMU exits on SIGINT at once, so the CPU it was burning
is free for the report, and a worker blocked on its guest's console wakes up.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from types import FrameType


def child_pids(parent: int | None = None) -> list[int]:
    """The processes whose parent is @parent (this process by default), from /proc."""
    me = os.getpid() if parent is None else parent
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields and int(fields[1]) == me:
            found.append(int(stat.parent.name))
    return found


def _interrupt(signum: int, frame: FrameType | None) -> None:
    for pid in child_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> None:
    """Handle SIGINT and SIGTERM in this process (not when SIGINT is ignored, as in a
    background job of a non-interactive shell)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
