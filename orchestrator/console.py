"""The guest's serial console: the markers /init prints, and the driver that runs one
program over it with pexpect and tells a finished program from a hung or dead guest."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pexpect

from .oops import oops_fingerprint

READY_RE = re.compile(
    r"<<<residency:ready uname=(\S*) mem_kb=(\d*) swap_kb=(\d*) swap_error=(\S+) "
    r"nproc=(\d+) taint=(\d+)(?: uptime=(\S+))?>>>"
)
START_RE = r"<<<residency:start (?P<nonce>{nonce}) (?P<program>\S+)>>>"
END_RE = r"<<<residency:end (?P<nonce>{nonce}) rc=(?P<rc>\d+) taint=(?P<t0>\d+),(?P<t1>\d+)>>>"
ANY_NONCE = r"[0-9a-f]+"
LINE_END = re.compile(r"\n")  # each console line is timestamped as it arrives
POWEROFF_RE = r"<<<residency:poweroff>>>"
# The kernel's last words as it stops the machine (kernel/reboot.c, "reboot: " prefix).  After
# them nothing happens in the guest, so QEMU can be ended at once, even where it would run on
# (a kernel without ACPI halts instead of powering off).
LAST_WORDS_RE = r"reboot: (?:Restarting system|System halted|Power down|Power off not available)"
SHUTDOWN_WAIT = 5.0
MONITOR_BREAK = "\x01b"  # QEMU's mux escape: send a serial break to the guest
SYSRQ_KEY = "w"  # show blocked tasks: useful in the log of a hang
Outcome = Literal["completed", "timeout", "crash"]
_Pattern = (
    re.Pattern[str] | re.Pattern[bytes] | str | bytes | type[pexpect.EOF] | type[pexpect.TIMEOUT]
)


@dataclass(frozen=True)
class BootInfo:
    """What the guest said when it was ready."""

    uname: str
    mem_kb: int
    swap_kb: int
    swap_error: str
    nproc: int
    taint: int
    seconds: float


@dataclass(frozen=True)
class Execution:
    """What happened when one test program ran in the guest."""

    program: str
    outcome: Outcome
    exit_code: int | None
    output: str
    seconds: float
    taint_before: int | None = None
    taint_after: int | None = None
    detail: str = ""
    line_times: tuple[float, ...] = ()
    """Seconds from the program's start to the arrival of each line of @output (as
    ``output.split("\\n")`` counts them) on the host; empty when unknown (a replayed log)."""


def clean(text: str) -> str:
    return text.replace("\r", "").replace("\0", "")


def boot_info(ready: re.Match[str], seconds: float) -> BootInfo:
    """The guest's facts from a READY_RE match."""
    return BootInfo(
        uname=ready.group(1),
        mem_kb=int(ready.group(2) or 0),
        swap_kb=int(ready.group(3) or 0),
        swap_error=ready.group(4),
        nproc=int(ready.group(5)),
        taint=int(ready.group(6)),
        seconds=seconds,
    )


def finished(program: str, end: re.Match[str], output: str, seconds: float) -> Execution:
    """A program whose END_RE marker came."""
    return Execution(
        program=program,
        outcome="completed",
        exit_code=int(end["rc"]),
        output=output,
        seconds=seconds,
        taint_before=int(end["t0"]),
        taint_after=int(end["t1"]),
    )


class Console:
    """The serial console of a running QEMU (its stdio, under pexpect), logged to a file."""

    def __init__(self, child: pexpect.spawn[str], log: Path) -> None:
        self.child = child
        self.log = log
        self.last_words = ""  # the kernel's "reboot: ..." line, once it has said it

    def wait_ready(self, timeout: float, started: float) -> BootInfo | str:
        """The guest's facts once it is ready, else what went wrong."""
        index = self.child.expect([READY_RE, pexpect.EOF, pexpect.TIMEOUT], timeout)
        if index == 1:
            return "QEMU exited before the guest was ready"
        if index == 2:
            return f"the guest was not ready after {timeout:.0f}s"
        m = self.child.match
        assert isinstance(m, re.Match)
        return boot_info(m, time.monotonic() - started)

    def tail(self) -> str:
        """The last non-empty line of the console log."""
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln]
        except OSError:
            return ""
        return lines[-1].strip()[:200] if lines else ""

    def run(self, program: str, timeout: float) -> Execution:
        """Run @program between unique markers.  An execution that is not 'completed' leaves
        the guest unusable: the caller kills it."""
        nonce = secrets.token_hex(6)
        start = time.monotonic()
        self.child.send(f"run {nonce} {program}\n")
        index = self._expect_or_gone(re.compile(START_RE.format(nonce=nonce)), min(60, timeout))
        if index != 0:
            return self._lost(program, start, "", index, "the guest did not start the program")
        index, output, times = self._lines_until(re.compile(END_RE.format(nonce=nonce)), timeout)
        if index != 0:
            lost = self._lost(program, start, output, index, f"after {timeout:.0f}s")
            return replace(lost, line_times=times)
        m = self.child.match
        assert isinstance(m, re.Match)
        execution = finished(program, m, output, time.monotonic() - start)
        fingerprint = oops_fingerprint(output)
        return replace(execution, detail=fingerprint or "", line_times=times)

    def _lines_until(
        self, end: re.Pattern[str], timeout: float
    ) -> tuple[int, str, tuple[float, ...]]:
        """Read the console line by line until @end, noting when each line arrived (the
        guest's output stays as the program printed it).  Returns _expect_or_gone's index,
        the cleaned output before @end, and each line's arrival in seconds from now."""
        start = time.monotonic()
        deadline = start + timeout
        chunks: list[str] = []
        times: list[float] = []
        while True:
            index = self._expect_or_gone(end, max(0.0, deadline - time.monotonic()), LINE_END)
            before = self.child.before if isinstance(self.child.before, str) else ""
            chunks.append(before)
            if index != 4:
                break
            chunks.append("\n")
            times.append(round(time.monotonic() - start, 3))
        return index, clean("".join(chunks)), tuple(times)

    def _expect_or_gone(
        self, pattern: re.Pattern[str], timeout: float, line: re.Pattern[str] | None = None
    ) -> int:
        """0 when @pattern came, 1 when the guest is gone (QEMU exited, or the kernel said
        its last words: a halted machine never exits by itself), 2 on timeout, 4 when
        @line (if given) came first."""
        patterns: list[_Pattern] = [
            pattern, pexpect.EOF, pexpect.TIMEOUT, LAST_WORDS_RE,
        ]  # fmt: skip
        if line is not None:
            patterns.append(line)
        index = self.child.expect(patterns, timeout)
        if index == 3:
            self.last_words = str(self.child.after)
            return 1
        return index

    def kernel_answers(self, timeout: float = 10.0) -> bool:
        """Is the kernel alive?  A serial break plus 'w' is a magic SysRq that the kernel
        answers from interrupt context, whatever the shell and the test are doing."""
        if not self.child.isalive():
            return False
        self.child.send(MONITOR_BREAK)
        time.sleep(0.5)
        self.child.send(SYSRQ_KEY)
        return self.child.expect(["sysrq: ", pexpect.EOF, pexpect.TIMEOUT], timeout=timeout) == 0

    def _lost(self, program: str, start: float, output: str, index: int, what: str) -> Execution:
        seconds = time.monotonic() - start
        if index == 1:
            outcome: Outcome = "crash"
            detail = f"the guest died while running {program}"
            if self.last_words:
                detail = f"the kernel stopped the machine ({self.last_words!r}) while {program} ran"
        elif self.kernel_answers():
            outcome = "timeout"
            detail = f"{program} did not finish {what}; the kernel still answered SysRq"
        else:
            outcome = "crash"
            detail = f"the kernel stopped responding while {program} ran {what} (no SysRq answer)"
        tail = output if index == 1 else self._since(output)
        fingerprint = oops_fingerprint(tail)
        if fingerprint:
            detail += f": {fingerprint}"
        elif index == 1:
            detail += f": {self.tail()!r}"
        return Execution(program, outcome, None, output, seconds, detail=detail)

    def _since(self, output: str) -> str:
        """The test's output plus whatever the console printed after it (SysRq, panic)."""
        rest = self.child.before if isinstance(self.child.before, str) else ""
        return output + clean(rest)

    def power_off(self) -> str:
        """Ask the guest to leave and wait for QEMU's exit or the kernel's last words,
        whichever comes first, at most SHUTDOWN_WAIT each.  Returns how it ended."""
        if not self.child.isalive():
            return "not running"
        self.child.send("poweroff\n")
        index = self.child.expect([POWEROFF_RE, pexpect.EOF, pexpect.TIMEOUT], SHUTDOWN_WAIT)
        how = ("left", "exited", "no answer")[index]
        if how == "left":
            index = self.child.expect([pexpect.EOF, LAST_WORDS_RE, pexpect.TIMEOUT], SHUTDOWN_WAIT)
            how = ("exited", "last words", "no exit")[index]
        return how
