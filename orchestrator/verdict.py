"""The run's exit status and completeness, from pytest's status and what the run found."""

from __future__ import annotations

import pytest

from .errors import InfraRecord

EXIT_OK, EXIT_FAILED, EXIT_INFRA = 0, 1, 2


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
    }[status]
