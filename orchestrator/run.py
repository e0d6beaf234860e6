"""Step 5: run one test program on a system under test and turn what happened into results."""

from __future__ import annotations

import signal
from dataclasses import asdict, dataclass, field
from typing import Any

from . import ktap
from .console import Execution
from .status import Status

# Bits of /proc/sys/kernel/tainted worth naming in a diagnostic.
TAINT_NAMES = {
    0: "P proprietary module", 4: "S unsafe SMP", 5: "R forced unload", 7: "B bad page",
    9: "W warning", 10: "C staging", 11: "I firmware workaround", 12: "O out-of-tree module",
    13: "E unsigned module", 14: "L soft lockup", 15: "K live patch", 16: "X auxiliary",
    17: "T struct randomization", 18: "N test",
}  # fmt: skip
TAINT_SUBTEST = "kernel_taint"


@dataclass
class SubtestResult:
    kernel: str
    program: str
    subtest: str
    status: Status
    reason: str = ""
    diagnostics: list[str] = field(default_factory=list)
    flaky: bool = False  # failed first, passed when run again in a fresh VM
    seconds: float = 0.0  # from the previous result line (or the start) to its own
    tap: str = ""  # its own TAP lines: what the program printed since the previous result

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubtestResult:
        return cls(
            kernel=data["kernel"],
            program=data["program"],
            subtest=data["subtest"],
            status=Status(data["status"]),
            reason=data.get("reason", ""),
            diagnostics=list(data.get("diagnostics", [])),
            flaky=bool(data.get("flaky", False)),
            seconds=float(data.get("seconds", 0.0)),
            tap=str(data.get("tap", "")),
        )


@dataclass
class ProgramResult:
    """Everything known about one kernel x program run."""

    kernel: str
    program: str
    outcome: str
    exit_code: int | None
    seconds: float
    tap: str
    subtests: list[SubtestResult]
    problems: list[str] = field(default_factory=list)
    detail: str = ""
    taint_before: int | None = None
    taint_after: int | None = None
    console: list[str] = field(default_factory=list)  # the logs of its VMs, run-relative

    @property
    def failed(self) -> bool:
        return any(s.status.is_bad for s in self.subtests)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["subtests"] = [s.to_json() for s in self.subtests]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProgramResult:
        fields = dict(data)
        fields["subtests"] = [SubtestResult.from_json(s) for s in data["subtests"]]
        return cls(**fields)


def describe_taint(before: int, after: int) -> str:
    new = after & ~before
    names = [TAINT_NAMES.get(bit, f"bit {bit}") for bit in range(32) if new >> bit & 1]
    return f"kernel taint went from {before} to {after}: " + ", ".join(names)


def _signal_name(code: int | None) -> str:
    """The signal behind a shell exit status above 128, e.g. 139 -> 'SIGSEGV'."""
    if code is None or not 128 < code < 128 + 65:
        return ""
    try:
        return signal.Signals(code - 128).name
    except ValueError:
        return f"signal {code - 128}"


def _flatten(prefix: str, results: list[ktap.TestResult]) -> list[tuple[str, ktap.TestResult]]:
    out: list[tuple[str, ktap.TestResult]] = []
    for r in results:
        name = r.name or f"test_{r.number}"
        full = f"{prefix}{name}"
        out.append((full, r))
        out.extend(_flatten(f"{full}/", r.subtests))
    return out


def failure_reason(status: Status, reason: str, diagnostics: list[str]) -> str:
    """A failed subtest's reason: what its result line said, else its first diagnostic
    line (kselftest prints why before the 'not ok')."""
    if reason or status is not Status.FAIL:
        return reason
    return next((d.strip() for d in diagnostics if d.strip()), "")


def _own_lines(
    execution: Execution, lines: list[int]
) -> tuple[dict[int, tuple[float, str]], tuple[float, str]]:
    """For each result line number (1-based), its own time and TAP: from the previous
    result line, or the program's start, to itself.  Also what came after the last one."""
    text = execution.output.split("\n")
    times = execution.line_times

    def arrived(line: int) -> float:
        if line <= 0:
            return 0.0
        return times[line - 1] if line - 1 < len(times) else execution.seconds

    own: dict[int, tuple[float, str]] = {}
    previous = 0
    for line in sorted(set(lines)):
        seconds = max(0.0, arrived(line) - arrived(previous))
        own[line] = (round(seconds, 3), "\n".join(text[previous:line]).lstrip("\n") + "\n")
        previous = line
    rest = "\n".join(text[previous:]).strip("\n")
    after = max(0.0, execution.seconds - arrived(previous)) if times else 0.0
    return own, (round(after, 3), rest + "\n" if rest else "")


def classify(kernel: str, execution: Execution) -> ProgramResult:
    """Parse a program's TAP and merge it with how the program ended.

    Nothing is dropped: a planned subtest that never reported, a program that died or hung,
    output that is not TAP, and an exit status that contradicts the TAP all become results."""
    program = execution.program
    doc = ktap.parse(execution.output)
    results: list[SubtestResult] = []
    flat = _flatten("", doc.results)
    own, trailing = _own_lines(execution, [r.line for _, r in flat if r.line])

    def add(
        name: str, status: Status, reason: str, diagnostics: list[str] | None = None, line: int = 0
    ) -> None:
        nonlocal trailing
        diagnostics = diagnostics or []
        reason = failure_reason(status, reason, diagnostics)
        if line:
            seconds, tap = own[line]
        else:
            # A result that never came gets what the program printed after the last one.
            (seconds, tap), trailing = trailing, (0.0, "")
        results.append(
            SubtestResult(kernel, program, name, status, reason, diagnostics, False, seconds, tap)
        )

    lost = {"timeout": Status.TIMEOUT, "crash": Status.CRASH}.get(execution.outcome)
    why = execution.detail or execution.outcome
    if doc.skip_all is not None:
        add(program, Status.SKIP, doc.skip_all)
    for name, r in flat:
        if r.raw == "" and lost is not None:
            # The parser stands in for a parent whose own result line never came.
            add(name, lost, f"no result: {why}", list(r.diagnostics))
        else:
            add(name, r.status, r.reason, list(r.diagnostics), r.line)
    stand_ins = {r.number for r in doc.results if r.raw == ""}
    missing = [n for n in doc.missing if n not in stand_ins]

    code = execution.exit_code
    signal_name = _signal_name(code)
    if lost is None and signal_name:
        # The program itself died: what it did not report crashed with it.
        lost, why = Status.CRASH, f"{program} was killed by {signal_name} (exit status {code})"
    if lost is not None:
        for number in missing:
            add(f"test_{number}", lost, f"no result: {why}")
        if not missing and not any(r.status is lost for r in results):
            add(program, lost, why)
    else:
        for number in missing:
            add(
                f"test_{number}",
                Status.ERROR,
                f"planned but never reported (plan 1..{doc.plan}, exit status {code})",
            )
        if doc.bailed_out is not None:
            add(f"{program}_bail_out", Status.ERROR, f"Bail out! {doc.bailed_out}")
        if not results:
            add(program, Status.ERROR, f"no TAP results in the output (exit status {code})")
        elif doc.plan is None and doc.skip_all is None:
            add(program, Status.ERROR, "the TAP has no plan, so missing results cannot be told")
        elif code not in (0, 4) and not any(r.status.is_bad for r in results):
            add(program, Status.ERROR, f"exit status {code} but no subtest reported a failure")
    before, after = execution.taint_before, execution.taint_after
    if before is not None and after is not None and after != before:
        reason = describe_taint(before, after)
        if execution.detail:
            reason += f"; console: {execution.detail}"
        add(TAINT_SUBTEST, Status.ERROR, reason)
    return ProgramResult(
        kernel=kernel,
        program=program,
        outcome=execution.outcome,
        exit_code=execution.exit_code,
        seconds=round(execution.seconds, 3),
        tap=execution.output,
        subtests=results,
        problems=list(doc.problems),
        detail=execution.detail,
        taint_before=before,
        taint_after=after,
    )


def merge_retry(first: ProgramResult, retry: ProgramResult) -> ProgramResult:
    """The result of a failed program run once more in a fresh VM.  If the retry passes,
    the subtests that failed first are flaky (still reported, never a clean pass); if it
    fails again, the first failure stands and says so."""
    if retry.failed:
        for sub in first.subtests:
            if sub.status.is_bad:
                sub.reason += " (failed again when retried in a fresh VM)"
        return first
    before = {s.subtest: s for s in first.subtests}
    for sub in retry.subtests:
        old = before.get(sub.subtest)
        if old is not None and old.status.is_bad:
            sub.flaky = True
            sub.reason = (
                f"passed on retry in a fresh VM; first attempt {old.status.value}: {old.reason}"
            ).rstrip(": ")
            sub.diagnostics = old.diagnostics + sub.diagnostics
    # A bad result of the first attempt with no counterpart in the retry stays reported.
    names = {s.subtest for s in retry.subtests}
    for name, old in before.items():
        if old.status.is_bad and name not in names:
            old.flaky = True
            old.reason += " (not reported by the passing retry)"
            retry.subtests.append(old)
    retry.detail = "; ".join(x for x in (first.detail, "retried in a fresh VM") if x)
    return retry
