"""A tolerant parser for KTAP and TAP 13/14, as printed by kselftest and KUnit.

The input can be a whole serial console log, the stdout of one kselftest
program, or the output of ``run_kselftest.sh`` / ``kselftest/runner.sh``.
:func:`parse` turns it into a :class:`TapDocument` with a tree of
:class:`TestResult`. It never raises: it records what looks wrong in
:attr:`TapDocument.problems` and carries on.

Rules (Documentation/dev-tools/ktap.rst, kselftest.h, kselftest/runner.sh):

* Version lines ``KTAP version 1``, ``TAP version 13`` and ``TAP version 14``.
  If the first version line has a console prefix in front of it (for example a
  printk timestamp ``[    1.234567] ``), a prefix of the same shape is removed
  from every later line that has one.
* Nesting is read from each line's lead-in: indentation (2 or 4 spaces or tabs
  per level, whatever the document uses) and ``#`` markers. kselftest's
  ``runner.sh`` pipes a test's whole output through ``prefix.pl``, so
  ``# ok 1 foo`` is a subtest of the next unprefixed ``ok N selftests: dir: test``;
  ``run_vmtests.sh`` inside it adds a second ``# ``. A ``# Subtest: name`` line
  names the block it appears in. Subtest lines come before the parent's result
  line.
* ``ok|not ok [N] [description] [# [DIRECTIVE] [reason]]`` where the directive is
  SKIP, TODO, XFAIL, XPASS, TIMEOUT or ERROR (any case). Other text after ``#``
  (such as the runner's ``exit=139``) is kept as the reason. ``#`` followed by two
  blanks is diagnostic data with no directive, whatever its first word: kselftest.h's
  ``ksft_test_result_code()`` prints a pass's or a failure's message that way
  (``not ok 3 name #  error: skipped a page`` is a failure with that reason).
* A plan ``1..N`` may come before or after the results; ``1..0 # SKIP reason``
  means the whole program was skipped.
* ``# ...`` lines are diagnostics, attached to the next result at their level.
  Diagnostics left over at the end of a subtest block (kselftest's
  ``# Totals:`` line, a subtest's ``Bail out!``) go to the parent result.
  Other lines are unknown lines and are ignored (KTAP allows them).
* The top level is the shallowest level that holds a structural line, so one
  program's output still parses if it is indented or ``# ``-prefixed as a whole.

Results are never given :attr:`Status.CRASH`: deciding that a test crashed is
left to the caller, which gets :attr:`TapDocument.missing` (planned top-level
numbers that never printed a result line). When subtests were printed but their
parent's result line never came (the usual sign of a crash or a cut-off log),
the parser adds a stand-in parent: ``raw == ""``, status :attr:`Status.ERROR`,
reason :data:`SYNTHETIC_REASON`, the number the parent should have had (so at
the top level that number is also in ``missing``), and as name the
``# Subtest:`` name or the runner's ``# selftests: dir: test`` header.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from orchestrator.status import Status

__all__ = ["KNOWN_VERSIONS", "SYNTHETIC_REASON", "TapDocument", "TestResult", "parse"]

KNOWN_VERSIONS = frozenset({"KTAP version 1", "TAP version 13", "TAP version 14"})

# Statuses that mean a subtest went wrong, for the "parent says ok" check.
_FAILED_STATUSES = frozenset({Status.FAIL, Status.TIMEOUT, Status.ERROR})

# Safety limits, so that hostile input cannot make parse() slow or huge.
_MAX_PREFIX = 256  # longest console prefix we accept in front of a version line
_MAX_MISSING = 100_000  # most planned-but-missing numbers we list
_MAX_MARKERS = 16  # most '#' nesting markers read on one line

SYNTHETIC_REASON = "no result line for these subtests (output truncated?)"


@dataclass
class TestResult:
    """One ``ok``/``not ok`` line, with the subtests printed before it."""

    __test__ = False  # not a pytest test class

    number: int | None
    """The test number as printed, or None if the line had none."""
    name: str
    """The description, made unique among siblings (``name_dup2``...); '' if none
    (empty names are left empty, not renamed)."""
    status: Status
    directive: str | None = None
    """SKIP, TODO, XFAIL, XPASS, TIMEOUT or ERROR (upper case), or None."""
    reason: str = ""
    """Text after the directive, or the whole ``#`` comment if there is no directive.
    A bare ``# SKIP`` whose subtests said ``1..0 # SKIP why`` gets ``why``."""
    diagnostics: list[str] = field(default_factory=list)
    """``# ...`` lines (without ``# ``) since the previous result at this level."""
    subtests: list[TestResult] = field(default_factory=list)
    raw: str = ""
    """The result line as printed, without console prefix and nesting lead-in.
    Empty for a stand-in parent whose result line never appeared."""
    line: int = field(default=0, compare=False)
    """The 1-based number of the result line in the parsed text (0 for a stand-in);
    lines are counted as ``text.split("\\n")`` counts them."""


@dataclass
class TapDocument:
    """Everything :func:`parse` found in one piece of output."""

    version: str | None = None
    """The first top-level version line, e.g. 'TAP version 13'."""
    plan: int | None = None
    """N from the top-level '1..N' (summed if an old runner repeated the header)."""
    skip_all: str | None = None
    """The reason from a top-level '1..0 # SKIP reason' ('' if it gave none)."""
    results: list[TestResult] = field(default_factory=list)
    bailed_out: str | None = None
    """The text after the first top-level 'Bail out!'."""
    problems: list[str] = field(default_factory=list)
    """Human-readable notes on anything irregular, most with 'line N: '."""
    missing: list[int] = field(default_factory=list)
    """Planned top-level numbers that have no result line."""
    totals: dict[str, int] | None = None
    """The top-level '# Totals: pass:P fail:F ...' line from kselftest.h, if any."""
    trailing_diagnostics: list[str] = field(default_factory=list)
    """Top-level '# ...' lines after the last result, such as the last thing a
    program printed before it crashed. (An addition to the agreed interface.)"""

    def walk(self) -> Iterator[tuple[tuple[str, ...], TestResult]]:
        """Yield ``(path, result)`` for every result, depth first, parents last.

        ``path`` holds the names from the top level down to the result itself.
        """
        todo: list[tuple[tuple[str, ...], TestResult, bool]] = [
            ((r.name,), r, False) for r in reversed(self.results)
        ]
        while todo:
            path, result, expanded = todo.pop()
            if expanded or not result.subtests:
                yield path, result
                continue
            todo.append((path, result, True))
            todo.extend(((*path, s.name), s, False) for s in reversed(result.subtests))


# --------------------------------------------------------------------------- lines

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_VERSION_SEARCH_RE = re.compile(r"(?:KTAP|TAP) version [0-9]{1,9}[ \t]*$")
_VERSION_RE = re.compile(r"((?:KTAP|TAP) version [0-9]{1,9})$")
_PLAN_RE = re.compile(r"([0-9]{1,18})\.\.([0-9]{1,18})[ \t]*(?:#[ \t]*(.*))?$")
_RESULT_RE = re.compile(r"(not ok|ok)(?=[ \t#]|$)(?:[ \t]+([0-9]{1,18})(?=[ \t#]|$))?[ \t]*(.*)$")
_SUBTEST_RE = re.compile(r"#[ \t]*Subtest(?::|$)[ \t]*(.*)$")
_BAIL_RE = re.compile(r"Bail out!(.*)$", re.IGNORECASE)
_COMMENT_SPLIT_RE = re.compile(r"(?<!\\)#")
_DIRECTIVE_RE = re.compile(
    r"[ \t]*(skip\w*|todo|xfail|xpass|timeout|error)\b[ \t:]*(.*)$", re.IGNORECASE
)
_TOTALS_RE = re.compile(r"Totals:(.*)$")
_TOTALS_ITEM_RE = re.compile(r"([A-Za-z_]+):[ \t]*([0-9]{1,18})")
_RUNNER_HEADER_RE = re.compile(r"selftests: \S+: \S+")

# A line's nesting level: (number of '#' markers, indentation width).
_Measure = tuple[int, int]


@dataclass
class _Line:
    lineno: int
    kind: str  # 'result', 'plan', 'version', 'subtest', 'bail', 'diag', 'other'
    measure: _Measure
    body: str  # the structural text, or '' for diag/other lines
    # For 'diag' lines: every way to read it, outermost first, as
    # (level of the '#' that starts the diagnostic, text after that '#').
    diag: list[tuple[_Measure, str]] = field(default_factory=list)


def _structural_kind(rest: str) -> str | None:
    if rest.startswith("ok") or rest.startswith("not ok"):
        return "result" if _RESULT_RE.match(rest) else None
    if rest.startswith("#"):
        return "subtest" if _SUBTEST_RE.match(rest) else None
    if rest[:1].isdigit():
        return "plan" if _PLAN_RE.match(rest) else None
    if _VERSION_RE.match(rest):
        return "version"
    if _BAIL_RE.match(rest):
        return "bail"
    return None


def _classify(lineno: int, line: str) -> _Line:
    """Split a line into its nesting lead-in and its content."""
    hashes = 0
    width = 0
    pos = 0
    n = len(line)
    diag: list[tuple[_Measure, str]] = []
    while True:
        while pos < n and line[pos] in " \t":
            width += 4 if line[pos] == "\t" else 1
            pos += 1
        rest = line[pos:]
        measure = (hashes, width)
        kind = _structural_kind(rest)
        if kind is not None:
            return _Line(lineno, kind, measure, rest)
        if not rest.startswith("#") or hashes >= _MAX_MARKERS:
            if diag:
                return _Line(lineno, "diag", diag[-1][0], "", diag)
            return _Line(lineno, "other", measure, "")
        pos += 1
        if pos < n and line[pos] == " ":
            pos += 1
        diag.append((measure, line[pos:]))
        hashes += 1
        width = 0


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return [_ANSI_RE.sub("", line).rstrip() for line in text.split("\n")]


def _prefix_shape(prefix: str) -> re.Pattern[str]:
    """A pattern for console prefixes shaped like ``prefix`` (same length)."""
    parts = [
        "[0-9A-Za-z ]" if (c.isascii() and c.isalnum()) or c == " " else re.escape(c)
        for c in prefix
    ]
    return re.compile("".join(parts))


def _strip_console_prefix(lines: list[str]) -> int | None:
    """Remove the console prefix found before the first version line.

    Returns the index of the version line, or None if there is none.
    """
    for index, line in enumerate(lines):
        match = _VERSION_SEARCH_RE.search(line)
        if match is None or match.start() > _MAX_PREFIX:
            continue
        before = line[: match.start()]
        # Trailing blanks and '#' are nesting, not part of the console prefix.
        console = before.rstrip(" \t#")
        if not console:
            return index
        if before[len(console) : len(console) + 1] == " ":
            console += " "
        size = len(console)
        if all(c.isalnum() or c in " \t" for c in console):
            # No punctuation: too easy to confuse with text, so only strip exact copies.
            for j in range(index, len(lines)):
                if lines[j].startswith(console):
                    lines[j] = lines[j][size:]
            return index
        shape = _prefix_shape(console)
        for j in range(index, len(lines)):
            if shape.match(lines[j]):
                lines[j] = lines[j][size:]
        return index
    return None


# ------------------------------------------------------------------------ results


def _result_from_line(body: str) -> tuple[bool, int | None, TestResult]:
    match = _RESULT_RE.match(body)
    assert match is not None  # the caller classified the line as a result
    ok = match.group(1) == "ok"
    number = int(match.group(2)) if match.group(2) is not None else None
    rest = match.group(3)
    split = _COMMENT_SPLIT_RE.search(rest)
    if split is None:
        description, comment = rest, None
    else:
        description, comment = rest[: split.start()], rest[split.end() :]
    description = description.strip()
    if description == "-" or description.startswith(("- ", "-\t")):
        description = description[1:].lstrip()
    description = description.replace("\\#", "#")

    directive: str | None = None
    reason = ""
    status = Status.PASS if ok else Status.FAIL
    if comment is not None:
        # '#  message': a message, never a directive (kselftest.h, pass or failure)
        dmatch = None if comment[:2].isspace() else _DIRECTIVE_RE.match(comment)
        if dmatch is None:
            reason = comment.strip()
        else:
            word = dmatch.group(1).upper()
            directive = "SKIP" if word.startswith("SKIP") else word
            reason = dmatch.group(2).strip()
            status = {
                "SKIP": Status.SKIP,
                "TODO": Status.XPASS if ok else Status.XFAIL,
                "XFAIL": Status.XFAIL,
                "XPASS": Status.XPASS,
                "TIMEOUT": Status.TIMEOUT,
                "ERROR": Status.ERROR,
            }[directive]
    result = TestResult(
        number=number,
        name=description,
        status=status,
        directive=directive,
        reason=reason,
        raw=body,
    )
    return ok, number, result


# ------------------------------------------------------------------------- blocks


@dataclass
class _Section:
    """A run of results numbered from 1 (a block restarts one on a new version line)."""

    plan: int | None = None
    count: int = 0
    expected: int = 1
    seen: set[int] = field(default_factory=set)

    @property
    def started(self) -> bool:
        return self.plan is not None or self.count > 0


@dataclass
class _Block:
    """The results at one nesting level, under one (future) parent result."""

    measure: _Measure
    first_line: int
    results: list[TestResult] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    next_dup: dict[str, int] = field(default_factory=dict)
    diags: list[str] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=lambda: [_Section()])
    version: str | None = None
    name_hint: str | None = None  # from '# Subtest:' or the runner's header
    hint_from_parent: bool = False  # name_hint was the parent's child_hint
    child_hint: str | None = None  # name for the next child block
    skip_all: str | None = None
    # A closed child block waiting for this block's next result line.
    pending: _Block | None = None
    pending_line: int = 0


class _Parser:
    def __init__(self) -> None:
        self.doc = TapDocument()
        self.root = _Block(measure=(0, 0), first_line=1)
        self.stack: list[_Block] = [self.root]
        self.lineno = 0
        # Diagnostics for a level that has no open block: they wait for the next
        # structural line, which usually opens it.
        self.early: list[_Line] = []

    # -- helpers ----------------------------------------------------------------

    def problem(self, message: str, lineno: int | None = None) -> None:
        where = self.lineno if lineno is None else lineno
        self.doc.problems.append(f"line {where}: {message}" if where else message)

    def unique_name(self, block: _Block, name: str) -> str:
        if not name:
            return name
        if name not in block.names:
            block.names.add(name)
            return name
        k = block.next_dup.get(name, 2)
        while f"{name}_dup{k}" in block.names:
            k += 1
        block.next_dup[name] = k + 1
        new = f"{name}_dup{k}"
        block.names.add(new)
        self.problem(f"duplicate test name {name!r} renamed to {new!r}")
        return new

    def close_top(self) -> None:
        block = self.stack.pop()
        if block.pending is not None:
            self.orphan(block)
        parent = self.stack[-1]
        if block.diags:
            parent.diags.extend(block.diags)
            block.diags = []
        parent.pending = block
        parent.pending_line = self.lineno

    def open_child(self, measure: _Measure) -> _Block:
        parent = self.stack[-1]
        if parent.pending is not None:
            self.orphan(parent)
        child = _Block(
            measure=measure,
            first_line=self.lineno,
            name_hint=parent.child_hint,
            hint_from_parent=parent.child_hint is not None,
        )
        parent.child_hint = None
        self.stack.append(child)
        return child

    def block_for(self, measure: _Measure) -> _Block:
        """Find (closing or opening blocks as needed) the block of a structural line."""
        while len(self.stack) > 1 and self.stack[-2].measure >= measure:
            self.close_top()
        top = self.stack[-1]
        if measure > top.measure:
            return self.open_child(measure)
        if measure < top.measure:
            # A level between the top block and its parent that printed nothing
            # before its own subtests: slot it in, with the top block as those subtests.
            self.stack.pop()
            if top.pending is not None:
                self.orphan(top)
            middle = _Block(measure=measure, first_line=top.first_line, diags=top.diags)
            top.diags = []
            if top.hint_from_parent:
                middle.name_hint, top.name_hint = top.name_hint, None
            middle.pending = top
            middle.pending_line = self.lineno
            self.stack.append(middle)
            return middle
        return top

    def check_children(self, child: _Block, parent_name: str, ok: bool) -> None:
        label = repr(parent_name) if parent_name else "(unnamed)"
        for section in child.sections:
            plan = section.plan
            if plan is None:
                continue
            lost = plan - sum(1 for n in section.seen if 1 <= n <= plan)
            if lost:
                # At most len(seen) + 20 steps, however large the plan.
                shown: list[str] = []
                n = 1
                while len(shown) < 20 and n <= plan:
                    if n not in section.seen:
                        shown.append(str(n))
                    n += 1
                more = ", ..." if lost > len(shown) else ""
                self.problem(
                    f"{label}: {lost} of {plan} planned subtests have no result line "
                    f"({', '.join(shown)}{more})"
                )
        if ok and any(r.status in _FAILED_STATUSES for r in child.results):
            self.problem(f"{label} says ok but a subtest failed")

    def orphan(self, block: _Block) -> None:
        """Give ``block.pending`` a stand-in parent: its result line never came."""
        child = block.pending
        assert child is not None
        block.pending = None
        section = block.sections[-1]
        name = self.unique_name(block, child.name_hint or "")
        label = repr(name) if name else "(unnamed)"
        self.problem(
            f"subtests starting at line {child.first_line} ({label}) have no parent result line",
            block.pending_line,
        )
        self.check_children(child, name, ok=False)
        block.results.append(
            TestResult(
                number=section.expected,  # not consumed: a late real line may still use it
                name=name,
                status=Status.ERROR,
                reason=SYNTHETIC_REASON,
                diagnostics=block.diags,
                subtests=child.results,
                raw="",
            )
        )
        block.diags = []

    # -- line handlers ----------------------------------------------------------

    def on_result(self, block: _Block, line: _Line) -> None:
        ok, number, result = _result_from_line(line.body)
        result.line = line.lineno
        section = block.sections[-1]
        implied = section.expected if number is None else number
        if number is not None and number != section.expected:
            self.problem(f"expected test number {section.expected}, got {number}")
        if section.plan is not None and implied > section.plan:
            self.problem(f"test number {implied} is beyond the plan 1..{section.plan}")
        if implied in section.seen:
            self.problem(f"test number {implied} appears more than once")
        section.seen.add(implied)
        section.expected = implied + 1
        section.count += 1
        if result.directive in ("TIMEOUT", "ERROR") and ok:
            self.problem(f"'ok' with directive {result.directive}")
        result.name = self.unique_name(block, result.name)
        if block.pending is not None:
            child = block.pending
            block.pending = None
            result.subtests = child.results
            self.check_children(child, result.name, ok)
            if result.status is Status.SKIP and not result.reason and child.skip_all:
                # runner.sh prints a bare '# SKIP'; the program said why.
                result.reason = child.skip_all
        result.diagnostics = block.diags
        block.diags = []
        block.child_hint = None
        block.results.append(result)

    def on_plan(self, block: _Block, line: _Line) -> None:
        match = _PLAN_RE.match(line.body)
        assert match is not None
        first, last, comment = int(match.group(1)), int(match.group(2)), match.group(3)
        if first != 1:
            self.problem(f"plan {line.body!r} does not start at 1")
        count = last if first <= 1 else max(last - first + 1, 0)
        section = block.sections[-1]
        if section.plan is not None:
            self.problem("more than one plan line")
            if section.count:
                section = _Section()
                block.sections.append(section)
        elif section.count:
            self.problem("plan line after the results")
        section.plan = count
        if comment is not None and count == 0:
            dmatch = _DIRECTIVE_RE.match(comment)
            if dmatch is not None and dmatch.group(1).upper().startswith("SKIP"):
                block.skip_all = dmatch.group(2).strip()
        if count < section.count:
            self.problem(f"plan 1..{count} but {section.count} results before it")

    def on_version(self, block: _Block, line: _Line) -> None:
        match = _VERSION_RE.match(line.body)
        assert match is not None
        version = match.group(1)
        if version not in KNOWN_VERSIONS:
            self.problem(f"unknown version line {version!r}")
        if block is self.root and self.doc.version is None:
            self.doc.version = version
        if block.sections[-1].started:
            self.problem("version line repeated after a plan or results; numbering restarts")
            block.sections.append(_Section())
        if block.version is None:
            block.version = version

    def on_subtest(self, block: _Block, line: _Line) -> None:
        match = _SUBTEST_RE.match(line.body)
        assert match is not None
        name = match.group(1).strip()
        if block is self.root or block.sections[-1].started:
            block.child_hint = name
        else:
            block.name_hint = name

    def on_bail(self, block: _Block, line: _Line) -> None:
        match = _BAIL_RE.match(line.body)
        assert match is not None
        message = match.group(1).strip()
        if block is self.root:
            if self.doc.bailed_out is None:
                self.doc.bailed_out = message
            else:
                self.problem("more than one 'Bail out!'")
        else:
            block.diags.append(line.body)
            self.problem(f"a subtest bailed out: {message}")

    def on_diag(self, line: _Line) -> None:
        level = line.diag[-1][0]
        index = bisect.bisect_left(self.stack, level, key=lambda b: b.measure)
        if index == len(self.stack) or self.stack[index].measure != level:
            # No block is open at this diagnostic's level (yet): let the next
            # structural line open or close blocks first.
            self.early.append(line)
        else:
            self.attach_diag(line)

    def flush_early(self) -> None:
        for line in self.early:
            self.attach_diag(line)
        self.early = []

    def attach_diag(self, line: _Line) -> None:
        top = self.stack[-1].measure
        choice = line.diag[0]
        for candidate in reversed(line.diag):
            if candidate[0] <= top:
                choice = candidate
                break
        measure, text = choice
        # The stack's levels strictly increase: find the deepest one <= measure.
        index = bisect.bisect_right(self.stack, measure, key=lambda b: b.measure)
        block = self.stack[max(index - 1, 0)]
        block.diags.append(text)
        stripped = text.strip()
        if _RUNNER_HEADER_RE.fullmatch(stripped):
            block.child_hint = stripped
        if block is self.root:
            totals = _TOTALS_RE.match(stripped)
            if totals is not None:
                self.doc.totals = {
                    key: int(value) for key, value in _TOTALS_ITEM_RE.findall(totals.group(1))
                }

    # -- driver -----------------------------------------------------------------

    def run(self, text: str) -> TapDocument:
        lines = _clean_lines(text)
        if _strip_console_prefix(lines) is None:
            self.problem("no version line (KTAP version 1 / TAP version 13 or 14)", 0)
        parsed = [_classify(i, line) for i, line in enumerate(lines, start=1)]
        # The top level is the shallowest structural line (the whole output may
        # be indented, or be one program's output under runner.sh's '# ').
        levels = [line.measure for line in parsed if line.kind not in ("diag", "other")]
        if levels:
            self.root.measure = min(levels)
        handlers = {
            "result": self.on_result,
            "plan": self.on_plan,
            "version": self.on_version,
            "subtest": self.on_subtest,
            "bail": self.on_bail,
        }
        for line in parsed:
            self.lineno = line.lineno
            if line.kind == "other":
                continue
            if line.kind == "diag":
                self.on_diag(line)
                continue
            measure = max(line.measure, self.root.measure)
            block = self.block_for(measure)
            self.flush_early()
            if block.pending is not None and line.kind != "result":
                self.orphan(block)
            handlers[line.kind](block, line)
        self.lineno = len(lines)
        self.flush_early()
        while len(self.stack) > 1:
            self.close_top()
        if self.root.pending is not None:
            self.orphan(self.root)
        return self.finish()

    def finish(self) -> TapDocument:
        doc = self.doc
        root = self.root
        doc.results = root.results
        doc.skip_all = root.skip_all
        doc.trailing_diagnostics = root.diags
        plans = [s.plan for s in root.sections if s.plan is not None]
        doc.plan = sum(plans) if plans else None
        if not plans:
            self.problem("no plan line at the top level", 0)
        budget = _MAX_MISSING
        for section in root.sections:
            if section.plan is None:
                continue
            if section.plan > budget:
                self.problem(f"plan 1..{section.plan} too large; missing list truncated", 0)
            for n in range(1, min(section.plan, budget) + 1):
                if n not in section.seen:
                    doc.missing.append(n)
            budget -= min(section.plan, budget)
        return doc


def parse(text: str) -> TapDocument:
    """Parse KTAP/TAP output. Never raises; see the module docstring for the rules."""
    try:
        return _Parser().run(text)
    except Exception as exc:  # a bug here must not take the test run down
        return TapDocument(problems=[f"internal parser error: {exc!r}"])
