"""The baseline: an earlier run's summary.json, and each result of this run compared with it.

Every (kernel, program, subtest) of the programs this run ran gets one class:

- regression: pass or xfail on the base; now fail, crash, timeout, error, xpass or skip (a
  skip is only for a missing feature, and the feature was there);
- new failure: not in the base; now neither pass, xfail nor skip;
- still failing: good (pass or xfail) on neither, and not a skip on both;
- fixed: not good on the base, good now;
- new: not in the base, and pass, xfail or skip now;
- gone: in the base, without a result from a program that ran now;
- unchanged: good on both, or skipped on both.

A regression, a new failure or a gone subtest fails the gate.  Kernels are matched by label;
when each run has exactly one kernel, those two are compared whatever their labels."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InfraError
from .run import ProgramResult
from .status import Status

REGRESSION, NEW_FAILURE, STILL_FAILING = "regression", "new failure", "still failing"
FIXED, NEW, GONE, UNCHANGED = "fixed", "new", "gone", "unchanged"
CLASSES = (REGRESSION, NEW_FAILURE, GONE, STILL_FAILING, FIXED, NEW, UNCHANGED)
GATING = frozenset({REGRESSION, NEW_FAILURE, GONE})
GOOD = frozenset({Status.PASS, Status.XFAIL})

Key = tuple[str, str, str]  # kernel, program, subtest


@dataclass(frozen=True)
class Baseline:
    """What the gate needs of an earlier run's summary.json."""

    path: str
    run: str
    started: str
    kernels: tuple[str, ...]
    statuses: dict[Key, Status]


def _not_a_summary(path: Path, why: str) -> InfraError:
    return InfraError(
        f"--baseline {path} is not a residency-kselftest summary.json ({why})",
        "pass the results directory of an earlier run (results/<run-id>) or its summary.json",
    )


def load(path: Path) -> Baseline:
    """Read a results directory's summary.json, or the file itself; anything else is an
    infrastructure error naming the problem."""
    given = path
    path = path.expanduser()
    if path.is_dir():
        path = path / "summary.json"
    if not path.is_file():
        raise InfraError(
            f"--baseline {given} does not exist"
            if not given.expanduser().exists()
            else f"--baseline {given} holds no summary.json",
            "pass the results directory of an earlier run (results/<run-id>) or its summary.json",
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _not_a_summary(path, f"not JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise _not_a_summary(path, "no results list")
    if "run_id" not in data or "kernels" not in data:
        raise _not_a_summary(path, "no run_id or kernels")
    statuses: dict[Key, Status] = {}
    for i, entry in enumerate(data["results"]):
        try:
            key = (str(entry["kernel"]), str(entry["program"]), str(entry["subtest"]))
            statuses[key] = Status(entry["status"])
        except (TypeError, KeyError, ValueError):
            raise _not_a_summary(
                path, f"result {i + 1} is not a kernel/program/subtest/status"
            ) from None
    try:
        kernels = tuple(str(k["name"]) for k in data["kernels"])
    except (TypeError, KeyError):
        raise _not_a_summary(path, "a kernel without a name") from None
    return Baseline(
        path=str(path.resolve()),
        run=str(data["run_id"]),
        started=str(data.get("started", "")),
        kernels=kernels,
        statuses=statuses,
    )


def classify(base: Status | None, now: Status | None) -> str:
    """The class of one subtest, from its status on the base and now (None: no result)."""
    if now is None:
        return GONE
    if base is None:
        return NEW if now in GOOD or now is Status.SKIP else NEW_FAILURE
    if base in GOOD:
        return UNCHANGED if now in GOOD else REGRESSION
    if now in GOOD:
        return FIXED
    if base is Status.SKIP and now is Status.SKIP:
        return UNCHANGED
    return STILL_FAILING


@dataclass(frozen=True)
class Gone:
    kernel: str
    program: str
    subtest: str
    base_status: str


@dataclass
class Comparison:
    """This run's results against a baseline."""

    baseline: Baseline
    classes: dict[Key, str] = field(default_factory=dict)
    gone: list[Gone] = field(default_factory=list)
    matched: dict[str, str] = field(default_factory=dict)  # this run's kernel -> the base's

    def of(self, kernel: str, program: str, subtest: str) -> str | None:
        return self.classes.get((kernel, program, subtest))

    def counts(self) -> dict[str, int]:
        counter = Counter(self.classes.values())
        counter[GONE] += len(self.gone)
        return {c: counter.get(c, 0) for c in CLASSES}

    @property
    def failed(self) -> bool:
        return any(c in GATING for c in self.classes.values()) or bool(self.gone)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.baseline.path,
            "run": self.baseline.run,
            "started": self.baseline.started,
            "kernels": dict(self.matched),
            "counts": self.counts(),
            "gone": [
                {"kernel": g.kernel, "program": g.program, "subtest": g.subtest,
                 "base_status": g.base_status}
                for g in self.gone
            ],
        }  # fmt: skip


def match_kernels(base: Baseline, kernels: list[str]) -> dict[str, str]:
    """This run's kernels that have a counterpart in the base: by label, or the only one
    of each run."""
    if len(kernels) == 1 and len(base.kernels) == 1:
        return {kernels[0]: base.kernels[0]}
    return {k: k for k in kernels if k in base.kernels}


def compare(base: Baseline, kernels: list[str], programs: list[ProgramResult]) -> Comparison:
    """Classify every subtest of the programs that ran (a program that did not run this
    time is not compared)."""
    result = Comparison(base, matched=match_kernels(base, kernels))
    for p in programs:
        theirs = result.matched.get(p.kernel)
        before = {
            key[2]: status
            for key, status in base.statuses.items()
            if theirs is not None and key[0] == theirs and key[1] == p.program
        }
        names = set()
        for s in p.subtests:
            names.add(s.subtest)
            now = Status.PASS if s.flaky and not s.status.is_bad else s.status
            result.classes[(p.kernel, p.program, s.subtest)] = classify(before.get(s.subtest), now)
        for name, status in before.items():
            if name not in names:
                result.gone.append(Gone(p.kernel, p.program, name, status.value))
    return result
