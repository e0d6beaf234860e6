"""The controller's view of the VMs at work: one live line per worker (its kernel, its
program, the time against the timeout, the subtests reported so far), one permanent line
per finished program, and with --console the guests' serial consoles as they come.

It reads what the workers write anyway: their events (beacon.py) and the console logs the
console driver writes as it reads the guest (pexpect flushes each read), counting the TAP
result lines between the program's start and end markers.  Nothing is sent to the workers
and they wait for nothing, so watching costs the run nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .beacon import EVENTS_DIR
from .progress import Progress, duration
from .status import Status

PERIOD = 0.5  # seconds between two looks at the files
RESULT_LINE = re.compile(r"^(not )?ok \d+\b(.*)$")  # top level only: nested lines are indented
PLAN_LINE = re.compile(r"^1\.\.(\d+)")
START_MARK = "<<<residency:start "
END_MARK = "<<<residency:end "


@dataclass
class Tail:
    """A file read as it grows, line by line."""

    path: Path
    offset: int = 0
    partial: str = ""

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        text = self.partial + data.decode("utf-8", errors="replace")
        *lines, self.partial = text.split("\n")
        return [ln.replace("\r", "") for ln in lines]


@dataclass
class Worker:
    name: str
    events: Tail
    kernel: str = ""
    program: str = ""
    state: str = "idle"  # booting, running, idle
    since: float = 0.0  # wall-clock time the state began
    timeout: float = 0.0
    console: Tail | None = None
    in_program: bool = False
    results: int = 0
    not_ok: int = 0
    plan: int | None = None
    shown: tuple[str, str, str] = ("", "", "")


def counts_text(counts: dict[str, int]) -> str:
    order = [s.value for s in Status]
    items = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
    return ", ".join(f"{n} {status}" for status, n in items) or "no results"


class Board:
    """Polls the run's progress files and shows them on @progress."""

    def __init__(
        self,
        progress: Progress,
        run_dir: Path,
        console: bool = False,
        total: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.progress = progress
        self.directory = run_dir / EVENTS_DIR
        self.console = console
        self.total = total
        self.clock = clock
        self.started = clock()
        self.workers: dict[str, Worker] = {}
        self.done = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, period: float = PERIOD) -> None:
        def loop() -> None:
            while not self._stop.wait(period):
                self.poll()

        self._thread = threading.Thread(target=loop, name="residency-board", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Show what is left to show, then take the live lines away."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.poll()
        self.progress.close()

    def poll(self) -> None:
        with self._lock:
            try:
                paths = sorted(self.directory.glob("*.jsonl"))
            except OSError:
                paths = []
            for path in paths:
                name = path.stem
                if name not in self.workers:
                    self.workers[name] = Worker(name, Tail(path))
                worker = self.workers[name]
                for line in worker.events.new_lines():
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(event, dict):
                        self._apply(worker, event)
                self._read_console(worker)
            self._render()

    def _apply(self, worker: Worker, event: dict[str, Any]) -> None:
        kind = event.get("event")
        now = float(event.get("t", self.clock()))
        if kind == "boot":
            self._read_console(worker)  # what is left of the previous guest's console
            worker.console = Tail(Path(str(event.get("console", ""))))
            worker.state, worker.kernel, worker.program, worker.since = (
                "booting", str(event.get("kernel", "")), "", now,
            )  # fmt: skip
        elif kind == "ready":
            worker.state = "idle"
        elif kind == "boot_failed":
            worker.state = "idle"
            self.progress.say(
                f"{self._who(worker)}{event.get('kernel', '')}: did not boot: "
                f"{event.get('error', '')}"
            )
        elif kind == "start":
            if not worker.in_program:  # its start marker is not read yet: nothing counted
                worker.results, worker.not_ok, worker.plan = 0, 0, None
            worker.state, worker.since = "running", now
            worker.kernel, worker.program = str(event["kernel"]), str(event["program"])
            worker.timeout = float(event.get("timeout", 0))
        elif kind == "end":
            self._read_console(worker)
            worker.state = "idle"
            self._finished(worker, event)

    def _finished(self, worker: Worker, event: dict[str, Any]) -> None:
        counts = {str(k): int(v) for k, v in dict(event.get("counts", {})).items()}
        bad = bool(event.get("failed", False))
        self.done += 1
        self.failed += bad
        total = f"/{self.total}" if self.total else ""
        width = len(str(self.total)) if self.total else 1
        line = (
            f"[{self.done:>{width}}{total}] {'FAILED' if bad else 'ok    '} "
            f"{event.get('kernel', '')} {event.get('program', '')}: {counts_text(counts)} "
            f"({float(event.get('seconds', 0)):.0f} s)"
        )
        detail = str(event.get("detail", ""))
        self.progress.say(line + (f"; {detail}" if detail else ""))

    def _read_console(self, worker: Worker) -> None:
        if worker.console is None:
            return
        shown = []
        for line in worker.console.new_lines():
            if self.console:
                shown.append(f"{worker.name}| {line}" if self._many() else line)
            if START_MARK in line:
                worker.in_program, worker.results, worker.not_ok, worker.plan = (
                    True, 0, 0, None,
                )  # fmt: skip
            elif END_MARK in line:
                worker.in_program = False
            elif worker.in_program:
                self._count(worker, line)
        self.progress.lines(shown)

    @staticmethod
    def _count(worker: Worker, line: str) -> None:
        m = RESULT_LINE.match(line)
        if m:
            worker.results += 1
            directive = m.group(2).upper()
            if m.group(1) and "# SKIP" not in directive and "# TODO" not in directive:
                worker.not_ok += 1
            return
        plan = PLAN_LINE.match(line)
        if plan and worker.plan is None:
            worker.plan = int(plan.group(1))

    def _many(self) -> bool:
        return len(self.workers) > 1 or any(n != "main" for n in self.workers)

    def _who(self, worker: Worker) -> str:
        return f"{worker.name} " if self._many() else ""

    def _render(self) -> None:
        now = self.clock()
        busy = [w for w in self.workers.values() if w.state != "idle"]
        if self.progress.tty and busy:
            total = f"/{self.total}" if self.total else ""
            failed = f", {self.failed} failed" if self.failed else ""
            self.progress.live(
                "board",
                f"programs {self.done}{total} done{failed}, {duration(now - self.started)}",
            )
        elif not busy:
            self.progress.drop("board")
        for worker in self.workers.values():
            key = f"worker {worker.name}"
            state = (worker.state, worker.kernel, worker.program)
            if worker.state == "idle":
                if worker.shown != ("", "", ""):
                    self.progress.drop(key)
                    worker.shown = ("", "", "")
                continue
            news = state != worker.shown
            worker.shown = state
            gist = f"{state} {worker.results} {worker.not_ok} {worker.plan}"
            self.progress.live(key, self._line(worker, now), news, gist)

    def _line(self, worker: Worker, now: float) -> str:
        who = self._who(worker)
        elapsed = duration(now - worker.since)
        if worker.state == "booting":
            return f"{who}{worker.kernel}: booting, {elapsed}"
        plan = f"/{worker.plan}" if worker.plan is not None else ""
        not_ok = f", {worker.not_ok} not ok" if worker.not_ok else ""
        return (
            f"{who}{worker.kernel} {worker.program}: {elapsed} of {duration(worker.timeout)}, "
            f"{worker.results}{plan} subtests{not_ok}"
        )
