"""Infrastructure errors: problems that are not test results."""

from __future__ import annotations


class InfraError(Exception):
    """Something outside the tests went wrong: a bad option, a missing tool, a guest that
    does not boot.  It carries one line naming the problem and one naming the fix, and is
    always reported as such, never as a test result."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix

    def one_line(self) -> str:
        return f"{self.cause} -- fix: {self.fix}"
