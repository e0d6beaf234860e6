"""Infrastructure errors: problems that are not test results."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class InfraRecord:
    """An infrastructure error as the reports keep it: which kernel, at which step."""

    kernel: str
    step: str
    cause: str
    fix: str

    @classmethod
    def of(cls, kernel: str, step: str, error: InfraError) -> InfraRecord:
        return cls(kernel, step, error.cause, error.fix)
