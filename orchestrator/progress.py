"""What the person watching the terminal sees while the run works.

One `Progress` per run, in the controller.  It writes to a terminal or to a log:

- on a terminal (a TTY, and not CI=true) it keeps a block of live lines at the bottom,
  one per job under way (a kernel build, a download, a VM), redrawn in place; permanent
  lines (a finished step, a program's result, the guest's console) scroll above it;
- anywhere else (a pipe, a file, Jenkins) there is no block: a live line is printed as a
  plain line when its job changes state, otherwise at most once every `interval` seconds,
  so a CI log stays readable.

`Task` is one long host step (configure, build, download) shown as a live line with its
elapsed time, ending in one permanent line with how long it took.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

PLAIN_INTERVAL = 5.0  # seconds between two plain lines of the same job that say more
HEARTBEAT = 30.0  # seconds after which a plain line is printed even if only time passed
TICK = 1.0  # how often a Task's live line is refreshed
CLEAR_LINE = "\r\x1b[2K"
UP_AND_CLEAR = "\x1b[1A\x1b[2K"

Clock = Callable[[], float]


def duration(seconds: float) -> str:
    """0:07, 4:12, 1:02:03."""
    s = max(0, int(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def in_ci(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("CI", "").lower() in ("true", "1", "yes")


class Progress:
    """The live lines and the permanent lines of a run, on one output stream."""

    def __init__(
        self,
        stream: TextIO | None,
        tty: bool,
        interval: float = PLAIN_INTERVAL,
        heartbeat: float = HEARTBEAT,
        clock: Clock = time.monotonic,
        width: Callable[[], int] | None = None,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.interval = interval
        self.heartbeat = heartbeat
        self.clock = clock
        self._width = width
        self._live: dict[str, str] = {}
        self._printed: dict[str, tuple[float, str]] = {}  # plain mode: when, and what gist
        self._drawn = 0  # tty mode: how many live lines are on the screen
        self._lock = threading.RLock()

    @classmethod
    def silent(cls) -> Progress:
        """Shows nothing (library calls, tests of other modules)."""
        return cls(None, tty=False)

    @classmethod
    def for_terminal(cls, fd: int | None = None) -> Progress:
        """On a duplicate of stderr taken now, so that it reaches the terminal even while
        pytest captures the test's own output.  Live lines in place only on a TTY outside
        CI."""
        source = sys.stderr.fileno() if fd is None else fd
        stream = os.fdopen(os.dup(source), "w", encoding="utf-8", errors="replace")
        tty = stream.isatty() and not in_ci()
        if not tty:
            return cls(stream, tty=False)

        def width() -> int:
            try:
                columns = os.get_terminal_size(stream.fileno()).columns
            except OSError:
                columns = 0
            return columns if columns >= 20 else int(os.environ.get("COLUMNS", "80") or 80)

        return cls(stream, tty=True, width=width)

    @property
    def enabled(self) -> bool:
        return self.stream is not None

    def live(self, key: str, text: str, news: bool = False, gist: str | None = None) -> None:
        """Set the live line of job @key.  @news: its state changed (a plain log prints it
        at once); @gist: what the line says apart from the time (default: all of it)."""
        with self._lock:
            if self.tty:
                if self._live.get(key) != text:
                    self._live[key] = text
                    self._redraw()
                return
            now = self.clock()
            gist = text if gist is None else gist
            last, said = self._printed.get(key, (None, ""))
            since = now - last if last is not None else self.heartbeat
            if news or since >= self.heartbeat or (gist != said and since >= self.interval):
                self._printed[key] = (now, gist)
                self._write(text + "\n")

    def drop(self, key: str) -> None:
        """Job @key is over: its live line goes."""
        with self._lock:
            self._printed.pop(key, None)
            if self._live.pop(key, None) is not None:
                self._redraw()

    def say(self, text: str) -> None:
        """A permanent line, above the live ones."""
        with self._lock:
            self._write(self._erase() + text + "\n" + self._block())

    def lines(self, lines: list[str]) -> None:
        """Several permanent lines at once (the guest's console)."""
        if lines:
            with self._lock:
                self._write(self._erase() + "".join(ln + "\n" for ln in lines) + self._block())

    def close(self) -> None:
        """Take the live lines off the screen (before pytest's own summary)."""
        with self._lock:
            self._live.clear()
            self._printed.clear()
            self._write(self._erase())

    def task(self, key: str, title: str, tick: float | None = TICK) -> Task:
        return Task(self, key, title, tick)

    def _fit(self, text: str) -> str:
        width = self._width() if self._width else 80
        return text if len(text) < width else text[: max(1, width - 2)] + "…"

    def _erase(self) -> str:
        if not self.tty or self._drawn == 0:
            return ""
        text = CLEAR_LINE + UP_AND_CLEAR * (self._drawn - 1)
        self._drawn = 0
        return text

    def _block(self) -> str:
        if not self.tty or not self._live:
            return ""
        lines = [self._fit(t) for t in self._live.values()]
        self._drawn = len(lines)
        return "\n".join(lines)

    def _redraw(self) -> None:
        self._write(self._erase() + self._block())

    def _write(self, text: str) -> None:
        if self.stream is None or not text:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.stream = None  # the terminal went away: the run goes on without it


class Task:
    """One long host step: a live line '<title>: <detail>, <elapsed>' refreshed every
    @tick seconds, then one permanent line saying how it ended and how long it took."""

    def __init__(self, progress: Progress, key: str, title: str, tick: float | None) -> None:
        self.progress = progress
        self.key = key
        self.title = title
        self.tick = tick
        self.detail = ""
        self.outcome = "done"
        self.started = progress.clock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def elapsed(self) -> float:
        return self.progress.clock() - self.started

    def __enter__(self) -> Task:
        self.started = self.progress.clock()
        self._show(news=True)
        if self.tick and self.progress.enabled:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def update(self, detail: str, news: bool = False) -> None:
        self.detail = detail
        self._show(news)

    def finish(self, outcome: str) -> None:
        """What the permanent line says instead of 'done'."""
        self.outcome = outcome

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.progress.drop(self.key)
        took = duration(self.elapsed)
        if kind is None:
            self.progress.say(f"{self.title}: {self.outcome} in {took}")
        elif issubclass(kind, Exception):
            self.progress.say(f"{self.title}: failed after {took}")
        else:
            self.progress.say(f"{self.title}: interrupted after {took}")

    def _show(self, news: bool = False) -> None:
        parts = [p for p in (self.detail, duration(self.elapsed)) if p]
        text = f"{self.title}: {', '.join(parts)}"
        self.progress.live(self.key, text, news, gist=f"{self.title}: {self.detail}")

    def _tick(self) -> None:
        assert self.tick is not None
        while not self._stop.wait(self.tick):
            self._show()


SILENT = Progress.silent()  # the default of the steps when nobody watches
