"""The run's exit status and completeness, from pytest's status and what the run found."""

from __future__ import annotations

import pytest

from .baseline import GATING, Comparison
from .errors import InfraRecord
from .run import ProgramResult

EXIT_OK, EXIT_FAILED, EXIT_INFRA = 0, 1, 2
# Under --bisect, as `git bisect run` reads them: skip this commit / stop the bisect.
EXIT_UNTESTABLE, EXIT_ENVIRONMENT = 125, 128


def chosen_subtests(program: str, subtests: list[str]) -> set[str] | None:
    """The subtests of @program that decide the verdict (--subtest), None for all."""
    if not subtests:
        return None
    return {s for p, _, s in (x.partition(":") for x in subtests) if p == program}


def deciding(p: ProgramResult, comparison: Comparison | None, subtests: list[str]) -> list[str]:
    """What makes this program fail the run, one line per subtest (empty: nothing does).

    Without a baseline a subtest counts when its status is bad; with one, when it is a
    regression, a new failure or gone.  With --subtest only the named subtests count (the
    others are reported, but do not decide); a named subtest without a result counts."""
    chosen = chosen_subtests(p.program, subtests)
    lines = []
    for s in p.subtests:
        if chosen is not None and s.subtest not in chosen:
            continue
        if comparison is None:
            if s.status.is_bad:
                lines.append(f"{s.status.value} {s.subtest}: {s.reason}")
            continue
        klass = comparison.of(p.kernel, p.program, s.subtest)
        if klass in GATING:
            lines.append(f"{klass} {s.subtest} ({s.status.value}): {s.reason}")
    if comparison is not None:
        for g in comparison.gone:
            if (
                g.kernel == p.kernel
                and g.program == p.program
                and (chosen is None or g.subtest in chosen)
            ):
                lines.append(
                    f"gone {g.subtest}: {g.base_status} on {comparison.baseline.run}, no result now"
                )
    if chosen is not None:
        names = {s.subtest for s in p.subtests}
        lines += [
            f"no result {name}: {p.program} ended ({p.outcome}) without it"
            for name in sorted(chosen - names)
        ]
    return lines


def selection_problems(p: ProgramResult, subtests: list[str], bisect: bool) -> list[InfraRecord]:
    """A --subtest that did not report.  If its program completed, the name is wrong (an
    error of the command line); if the program crashed or hung first, the subtest was not
    tested: under --bisect that commit is untestable, otherwise it is the program's failure."""
    chosen = chosen_subtests(p.program, subtests)
    if not chosen:
        return []
    names = [s.subtest for s in p.subtests]
    records = []
    for name in sorted(chosen - set(names)):
        if p.outcome == "completed":
            records.append(InfraRecord(
                p.kernel, "select", f"{p.program} has no subtest {name!r}",
                f"use --subtest {p.program}:NAME with one of: {', '.join(names)}",
            ))  # fmt: skip
        elif bisect:
            records.append(InfraRecord(
                p.kernel, "run", f"{p.program} ended ({p.outcome}: {p.detail}) before {name} "
                "reported, so this kernel cannot tell", "nothing: the bisect skips this commit",
                untestable=True,
            ))  # fmt: skip
    return records


def selection_error(pytest_status: int) -> InfraRecord | None:
    """Selecting no test at all is an infrastructure error, not an empty success."""
    if pytest_status != pytest.ExitCode.NO_TESTS_COLLECTED:
        return None
    return InfraRecord(
        "all", "select", "no test program was selected",
        "check -k and --kernel against the programs in plan.json",
    )  # fmt: skip


def exit_status(pytest_status: int, infrastructure: bool, failed: bool) -> int:
    """2 for infrastructure errors (and interrupted or unusable runs), 1 when a test
    failed, 0 when everything passed, skipped or failed as expected."""
    interrupted = pytest_status in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
    if infrastructure:
        return EXIT_INFRA
    if failed:
        return EXIT_FAILED
    if interrupted or pytest_status in (
        pytest.ExitCode.USAGE_ERROR,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        return EXIT_INFRA
    if pytest_status != pytest.ExitCode.OK:
        return EXIT_FAILED
    return EXIT_OK


def bisect_status(status: int, infrastructure: list[InfraRecord]) -> int:
    """exit_status's answer as `git bisect run` reads it: good and bad stay 0 and 1; a
    kernel that could not be tested is 125 (skip the commit); anything else that stopped
    the run would stop every commit too, so 128 ends the bisect."""
    if status in (EXIT_OK, EXIT_FAILED):
        return status
    if infrastructure and all(r.untestable for r in infrastructure):
        return EXIT_UNTESTABLE
    return EXIT_ENVIRONMENT


def is_complete(pytest_status: int, infrastructure: bool) -> bool:
    """Every selected test ran to its end."""
    return not infrastructure and pytest_status in (
        pytest.ExitCode.OK,
        pytest.ExitCode.TESTS_FAILED,
    )


def meaning(status: int, infrastructure: bool) -> str:
    """The exit status in words, for the terminal."""
    if status == EXIT_INFRA and not infrastructure:
        return "the run was interrupted; the reports hold what finished"
    return {
        EXIT_OK: "all passed or expected",
        EXIT_FAILED: "test failures",
        EXIT_INFRA: "infrastructure error",
        EXIT_UNTESTABLE: "this kernel cannot be tested (git bisect run: skip this commit)",
        EXIT_ENVIRONMENT: "an error that would repeat at every commit (git bisect run: stop)",
    }.get(status, f"status {status}")
