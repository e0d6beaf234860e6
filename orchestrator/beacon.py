"""What a process running VMs is doing, for the controller to show: one JSON line per event
appended to <run>/progress/<worker>.jsonl.

xdist workers have no terminal of their own; the controller's board (board.py) reads these
files and the console logs they name.  Without xdist the one process writes and reads them
the same way.  Progress is a convenience: a file that cannot be written is skipped, never a
test result.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

EVENTS_DIR = "progress"


class Beacon:
    """The events of one worker: boot, ready, boot_failed, start, end."""

    def __init__(self, run_dir: Path, worker: str) -> None:
        self.path = run_dir / EVENTS_DIR / f"{worker}.jsonl"
        self.worker = worker

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "t": time.time(), **fields}) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)  # one small O_APPEND write: a reader never sees half of it
        except OSError:
            pass

    def boot(self, kernel: str, console: Path) -> None:
        self.emit("boot", kernel=kernel, console=str(console))

    def ready(self, kernel: str, seconds: float) -> None:
        self.emit("ready", kernel=kernel, seconds=round(seconds, 1))

    def boot_failed(self, kernel: str, error: str) -> None:
        self.emit("boot_failed", kernel=kernel, error=error)

    def start(self, kernel: str, program: str, timeout: float) -> None:
        self.emit("start", kernel=kernel, program=program, timeout=timeout)

    def end(
        self, kernel: str, program: str, seconds: float, statuses: list[str], deciding: list[str]
    ) -> None:
        """@deciding: what makes the program fail the run (verdict.deciding), if anything."""
        self.emit(
            "end",
            kernel=kernel,
            program=program,
            seconds=round(seconds, 1),
            counts=dict(Counter(statuses)),
            failed=bool(deciding),
            detail=deciding[0] if deciding else "",
        )
