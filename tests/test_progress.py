"""What the person at the terminal sees: live lines redrawn in place on a TTY, plain lines
in a CI log, the kernel build's object count, and the board of the VMs at work, replayed
from console logs recorded in a real four-kernel run (tests/fixtures/recorded/matrix).
The clock is always a fake one: nothing here depends on how fast the machine is."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.beacon import EVENTS_DIR
from orchestrator.board import Board
from orchestrator.makewatch import LastBuild, count_objects, estimate, run_watched
from orchestrator.progress import Progress, duration

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "fixtures" / "recorded"
ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def screen(text: str) -> list[str]:
    """What a terminal shows after @text: the carriage return, line feed, 'erase line' and
    'cursor up' that Progress writes (and pytest's colours, dropped)."""
    rows, row, col = [""], 0, 0
    i = 0
    while i < len(text):
        m = ESCAPE.match(text, i)
        if m:
            if m.group() == "\x1b[2K":
                rows[row] = ""
            elif m.group() == "\x1b[1A":
                row = max(0, row - 1)
            i = m.end()
            continue
        c = text[i]
        if c == "\r":
            col = 0
        elif c == "\n":
            row, col = row + 1, 0
            if row == len(rows):
                rows.append("")
        else:
            line = rows[row].ljust(col)
            rows[row] = line[:col] + c + line[col + 1 :]
            col += 1
        i += 1
    while rows and not rows[-1].strip():
        rows.pop()
    return [r.rstrip() for r in rows]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tty(width: int = 100, clock: FakeClock | None = None) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(out, tty=True, width=lambda: width, clock=clock or FakeClock()), out


def plain(clock: FakeClock) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(out, tty=False, interval=5, heartbeat=30, clock=clock), out


def test_duration() -> None:
    assert [duration(s) for s in (0, 7.9, 252, 3723)] == ["0:00", "0:07", "4:12", "1:02:03"]


def test_on_a_tty_live_lines_change_in_place_under_the_permanent_ones() -> None:
    progress, out = tty(width=40)
    progress.live("kbuild", "make bzImage: 10 objects")
    progress.live("gw1", "gw1 debian-6.1: booting")
    progress.say("selftests: done in 0:12")
    progress.live("kbuild", "make bzImage: 20 objects")
    assert screen(out.getvalue()) == [
        "selftests: done in 0:12",
        "make bzImage: 20 objects",
        "gw1 debian-6.1: booting",
    ]
    progress.live("gw1", "gw1 debian-6.1 shmem_lseek: 0:03 of 5:00, " + "x" * 40)
    assert screen(out.getvalue())[-1].endswith("…")
    assert all(len(line) < 40 for line in screen(out.getvalue()))
    progress.drop("kbuild")
    assert screen(out.getvalue())[0] == "selftests: done in 0:12"
    assert len(screen(out.getvalue())) == 2
    progress.close()
    assert screen(out.getvalue()) == ["selftests: done in 0:12"]


def test_on_a_tty_an_unchanged_line_is_not_redrawn() -> None:
    progress, out = tty()
    progress.live("k", "same")
    written = len(out.getvalue())
    progress.live("k", "same")
    assert len(out.getvalue()) == written


def test_in_a_log_a_line_comes_with_news_something_new_or_a_heartbeat() -> None:
    clock = FakeClock(0)
    progress, out = plain(clock)
    for now, text, gist, news in [
        (0, "a 0:00", "a", False),  # the first line of a job: printed
        (1, "a 0:01", "a", False),  # only time passed
        (2, "b 0:02", "b", False),  # something new, but within the interval
        (6, "b 0:06", "b", False),  # something new since the last printed line: printed
        (20, "b 0:20", "b", False),  # nothing new
        (36, "b 0:36", "b", False),  # a heartbeat after 30 s: printed
        (37, "c 0:37", "c", True),  # a new state: printed at once
    ]:
        clock.now = now
        progress.live("k", text, news=news, gist=gist)
    progress.say("done")
    assert out.getvalue().splitlines() == ["a 0:00", "b 0:06", "b 0:36", "c 0:37", "done"]
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_a_task_ends_in_one_line_with_its_time() -> None:
    clock = FakeClock(0)
    progress, out = plain(clock)
    with progress.task("k", "download linux-image 6.12", tick=None) as task:
        clock.now = 7
        task.update("55.0 MB of 110.0 MB")
        task.finish("110.0 MB")
    with pytest.raises(RuntimeError), progress.task("k", "unpack x.deb", tick=None):
        clock.now = 9
        raise RuntimeError("dpkg-deb failed")
    assert out.getvalue().splitlines() == [
        "download linux-image 6.12: 0:00",
        "download linux-image 6.12: 55.0 MB of 110.0 MB, 0:07",
        "download linux-image 6.12: 110.0 MB in 0:07",
        "unpack x.deb: 0:00",
        "unpack x.deb: failed after 0:02",
    ]


def test_kbuild_objects_are_counted_in_a_recorded_tinyconfig_build_log() -> None:
    text = (RECORDED / "kbuild-tinyconfig.log").read_text()
    # By hand (awk '{print $1}' | sort | uniq -c): 174 CC, 11 HOSTCC, 11 AS, 4 LD and
    # 4 HOSTLD/OBJCOPY; AR, GEN, UPD, WRAP, INSTALL, SYSHDR are not objects.
    assert count_objects(text) == 204


def test_the_estimate_comes_from_the_last_build_of_the_same_directory() -> None:
    assert estimate(100, 60, None) == "100 objects"
    last = LastBuild(seconds=240, objects=400)
    assert estimate(100, 60, last) == ("100 objects (last build: 400 in 4:00), about 3:00 left")
    assert estimate(1, 1, None) == "1 object"
    # Too few objects yet to tell a whole build from an incremental one: no estimate.
    assert estimate(0, 60, last) == "0 objects (last build: 400 in 4:00)"
    assert estimate(19, 20, last) == "19 objects (last build: 400 in 4:00)"
    assert estimate(500, 300, last) == "500 objects (last build: 400 in 4:00)"


def test_make_output_goes_to_the_log_and_its_objects_to_the_task(tmp_path: Path) -> None:
    log = tmp_path / "kbuild.log"
    lines = "  CC      mm/shmem.o\\n  AR      mm/built-in.a\\n  LD      vmlinux.o\\n"
    out = io.StringIO()
    progress = Progress(out, tty=False, interval=0, clock=FakeClock(0))
    with progress.task("kbuild", "make bzImage", tick=None) as task:
        code, objects = run_watched(["sh", "-c", f"printf '{lines}'"], log, task, None)
    assert (code, objects) == (0, 2)
    assert "  CC      mm/shmem.o" in log.read_text()
    assert log.read_text().startswith("$ sh -c")
    assert "mm/shmem.o" not in out.getvalue(), "make's own output stays in the log"
    assert "make bzImage: 2 objects" in out.getvalue()


class Replay:
    """A run directory in which workers 'write' their events and console logs, the latter
    cut from the recorded matrix run line by line."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        (run_dir / EVENTS_DIR).mkdir(parents=True)
        self.recorded: dict[str, list[str]] = {}
        self.written: dict[str, int] = {}

    def event(self, worker: str, t: float, event: str, **fields: object) -> None:
        with (self.run_dir / EVENTS_DIR / f"{worker}.jsonl").open("a") as f:
            f.write(json.dumps({"event": event, "t": t, **fields}) + "\n")

    def boot(self, worker: str, t: float, kernel: str, recorded: str) -> None:
        log = self.run_dir / "console" / kernel / Path(recorded).name
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        self.recorded[worker] = (RECORDED / "matrix" / recorded).read_text().splitlines(True)
        self.written[worker] = 0
        self._log = {worker: log} | getattr(self, "_log", {})
        self.event(worker, t, "boot", kernel=kernel, console=str(log))

    def console_until(self, worker: str, pattern: str) -> None:
        """Append the recorded console up to and including the first line matching."""
        lines = self.recorded[worker]
        start = self.written[worker]
        stop = next(i for i in range(start, len(lines)) if re.search(pattern, lines[i])) + 1
        with self._log[worker].open("a") as f:
            f.write("".join(lines[start:stop]).replace("\n", "\r\n"))
        self.written[worker] = stop


def board_run(tmp_path: Path, progress: Progress, clock: FakeClock, console: bool) -> Board:
    """Two workers of the recorded matrix: gw0 on 6.1, gw1 on 7.2."""
    run = Replay(tmp_path)
    board = Board(progress, tmp_path, console=console, total=32, clock=clock)
    run.boot("gw0", 1000, "debian-6.1", "debian-6.1/gw0-boot1.log")
    run.boot("gw1", 1000, "debian-7.2", "debian-7.2/gw1-boot2.log")
    clock.now = 1004
    board.poll()
    run.console_until("gw0", r"residency:ready")
    run.event("gw0", 1005, "ready", kernel="debian-6.1", seconds=5.0)
    run.event("gw0", 1005, "start", kernel="debian-6.1", program="shmem_lseek", timeout=300)
    run.console_until("gw0", r"^ok 10 ")
    clock.now = 1011
    board.poll()
    run.console_until("gw0", r"^not ok 23 ")
    clock.now = 1013
    board.poll()
    run.console_until("gw0", r"residency:end")
    counts = {"pass": 34, "xfail": 2}
    run.event("gw0", 1014, "end", kernel="debian-6.1", program="shmem_lseek", seconds=9.0,
              counts=counts, failed=False, detail="")  # fmt: skip
    run.event("gw0", 1014, "start", kernel="debian-6.1", program="madv_populate", timeout=300)
    clock.now = 1015
    board.poll()
    return board


def test_on_a_tty_the_board_shows_one_line_per_worker_and_a_line_per_result(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    progress, out = tty(width=100, clock=clock)
    board = board_run(tmp_path, progress, clock, console=False)
    seen = screen(out.getvalue())
    assert seen == [
        "[ 1/32] ok     debian-6.1 shmem_lseek: 34 pass, 2 xfail (9 s)",
        "programs 1/32 done, 0:15",
        "gw0 debian-6.1 madv_populate: 0:01 of 5:00, 0 subtests",
        "gw1 debian-7.2: booting, 0:15",
    ]
    board.stop()
    assert screen(out.getvalue()) == [seen[0]]
    assert "TAP version" not in out.getvalue(), "without --console no console line is shown"


def test_in_a_log_the_board_prints_plain_lines_as_programs_advance(tmp_path: Path) -> None:
    clock = FakeClock()
    progress, out = plain(clock)
    board_run(tmp_path, progress, clock, console=False).stop()
    assert out.getvalue().splitlines() == [
        "gw0 debian-6.1: booting, 0:04",
        "gw1 debian-7.2: booting, 0:04",
        "gw0 debian-6.1 shmem_lseek: 0:06 of 5:00, 10/36 subtests",
        "[ 1/32] ok     debian-6.1 shmem_lseek: 34 pass, 2 xfail (9 s)",
        "gw0 debian-6.1 madv_populate: 0:01 of 5:00, 0 subtests",
    ]


def test_with_console_the_guests_consoles_are_shown_as_they_come(tmp_path: Path) -> None:
    clock = FakeClock()
    progress, out = plain(clock)
    board_run(tmp_path, progress, clock, console=True).stop()
    lines = out.getvalue().splitlines()
    assert "gw0| TAP version 13" in lines
    assert "gw0| not ok 23 memfd_max_size_last_byte_seek_data" in lines
    assert not any(line.startswith("gw1|") for line in lines), "gw1 wrote nothing yet"
    assert not any("\r" in line for line in lines)
    # The running line counted what came between the markers: 10 results, then 23.
    assert "gw0 debian-6.1 shmem_lseek: 0:06 of 5:00, 10/36 subtests" in lines


def test_a_guest_that_did_not_boot_is_said_once(tmp_path: Path) -> None:
    clock = FakeClock()
    progress, out = plain(clock)
    run = Replay(tmp_path)
    board = Board(progress, tmp_path, clock=clock)
    run.boot("main", 1000, "debian-7.3", "debian-7.3/" + next(
        p.name for p in (RECORDED / "matrix" / "debian-7.3").glob("*.log")
    ))  # fmt: skip
    run.event("main", 1120, "boot_failed", kernel="debian-7.3", error="did not boot -- fix: x")
    board.poll()
    board.stop()
    assert out.getvalue().splitlines() == ["debian-7.3: did not boot: did not boot -- fix: x"]


def test_a_program_that_fails_the_run_says_why_in_its_line(tmp_path: Path) -> None:
    clock = FakeClock()
    progress, out = plain(clock)
    run = Replay(tmp_path)
    board = Board(progress, tmp_path, total=2, clock=clock)
    run.event("main", 1000, "start", kernel="debian-7.3", program="shmem_punch", timeout=300)
    run.event("main", 1003, "end", kernel="debian-7.3", program="shmem_punch", seconds=3.0,
              counts={"pass": 5, "fail": 1}, failed=True,
              detail="fail punch_frees_swap: swap still used")  # fmt: skip
    board.poll()
    board.stop()
    assert out.getvalue().splitlines()[-1] == (
        "[1/2] FAILED debian-7.3 shmem_punch: 5 pass, 1 fail (3 s); "
        "fail punch_frees_swap: swap still used"
    )


@pytest.mark.qemu
def test_a_real_run_on_a_terminal_and_in_ci_keeps_its_reports(tmp_path: Path) -> None:
    """The default kernel, one program: under a pseudo-terminal (live lines), then as
    Jenkins runs it (no TTY, CI=true, --console).  Both runs write whole reports and exit
    as their results say; only the terminal one moves the cursor."""
    import pexpect

    env = {k: v for k, v in __import__("os").environ.items() if k != "CI"}
    args = ["-m", "orchestrator", "-k", "shmem_lseek"]
    child = pexpect.spawn(
        sys.executable, [*args, "--results", str(tmp_path / "tty")], cwd=str(ROOT), env=env,
        encoding="utf-8", codec_errors="replace", timeout=600, dimensions=(40, 120),
    )  # fmt: skip
    text = child.read()
    child.close()
    tty_code = child.exitstatus
    ci = subprocess.run(
        [sys.executable, *args, "--console", "--results", str(tmp_path / "ci")],
        cwd=ROOT, env=env | {"CI": "true"}, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    for code, results in ((tty_code, tmp_path / "tty"), (ci.returncode, tmp_path / "ci")):
        summary = json.loads((results / "latest" / "summary.json").read_text())
        bad = any(r["status"] in ("fail", "xpass", "crash", "timeout", "error")
                  for r in summary["results"])  # fmt: skip
        assert code == (1 if bad else 0), summary
        assert summary["complete"] is True
        assert (results / "latest" / "junit.xml").read_text().startswith("<?xml")
    seen = screen(text)
    assert "\x1b[1A" in text, "on a terminal the live lines are redrawn in place"
    assert any(re.match(r"\[1/1\] (ok|FAILED) +debian-6\.1 shmem_lseek: ", ln) for ln in seen)
    assert not any("shmem_lseek: 0:" in ln for ln in seen), "no live line is left behind"
    assert "TAP version" not in text, "without --console no console line"
    log = ci.stdout + ci.stderr
    assert "\x1b[1A" not in log and "\r" not in log
    assert "<<<residency:ready" in log and "TAP version 13" in log
    assert re.search(r"^\[1/1\] (ok|FAILED) +debian-6\.1 shmem_lseek: ", log, re.M)
