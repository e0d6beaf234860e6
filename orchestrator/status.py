"""Outcome vocabulary shared by the parser, the runner and the reports."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The outcome of one subtest, as it appears in summary.json."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    XFAIL = "xfail"
    XPASS = "xpass"
    CRASH = "crash"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def is_bad(self) -> bool:
        """True for outcomes that make a run exit 1."""
        return self in BAD_STATUSES


BAD_STATUSES = frozenset({Status.FAIL, Status.XPASS, Status.CRASH, Status.TIMEOUT, Status.ERROR})
