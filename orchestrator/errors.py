"""Infrastructure errors: problems that are not test results."""

from __future__ import annotations

from dataclasses import dataclass


class InfraError(Exception):
    """Something outside the tests went wrong: a bad option, a missing tool, a guest that
    does not boot.  It carries one line naming the problem and one naming the fix, and is
    always reported as such, never as a test result.

    @untestable: the problem belongs to the kernel being tested (its tree does not build,
    it does not boot), so another commit may do better (`git bisect run` skips it); else it
    is the environment's (an option, a missing tool) and would repeat at every commit."""

    def __init__(self, cause: str, fix: str, untestable: bool = False) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.untestable = untestable

    def one_line(self) -> str:
        return f"{self.cause} -- fix: {self.fix}"


class BootCrash(InfraError):
    """A guest whose kernel oopsed or panicked before it was ready (@fingerprint: the
    oops's first line).  The kernel crashed, not the machine: on a TCG host this can be a
    one-off (text patching racing across vCPUs), so it says nothing lasting about the QEMU
    machine type the guest was booted on."""

    def __init__(
        self, cause: str, fix: str, fingerprint: str, stale_breakpoint: bool = False
    ) -> None:
        super().__init__(cause, fix, untestable=True)
        self.fingerprint = fingerprint
        self.stale_breakpoint = stale_breakpoint  # oops.stale_breakpoint: TCG's, not the kernel's


@dataclass(frozen=True)
class InfraRecord:
    """An infrastructure error as the reports keep it: which kernel, at which step."""

    kernel: str
    step: str
    cause: str
    fix: str
    untestable: bool = False  # the kernel's problem, not the environment's (see InfraError)

    @classmethod
    def of(cls, kernel: str, step: str, error: InfraError) -> InfraRecord:
        return cls(kernel, step, error.cause, error.fix, error.untestable)
