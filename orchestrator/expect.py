"""Versioned expectations: results a kernel range is known to get wrong, with the why.

The file (expectations.toml at the repository root) holds `[[expect]]` tables:

    program   = "shmem_pagemap"            # test program
    subtest   = "uffd_wp_*"                # subtest name, shell-style wildcards allowed
    kernels   = ">=6.1, <6.1.192"          # upstream version range, comma = and
    reason    = "what the kernel does and why it is wrong or different"
    reference = "commit / mailing-list thread / document"

A failing result (fail, error, crash, timeout) that an entry covers becomes `xfail`;
a passing one becomes `xpass`, which fails the run: the kernel changed, so the entry
needs a look.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import InfraError
from .run import ProgramResult
from .status import Status

Version = tuple[int, ...]
_COMPARE = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b,
}  # fmt: skip
FIELDS = ("program", "subtest", "kernels", "reason", "reference")
FAILING = (Status.FAIL, Status.ERROR, Status.CRASH, Status.TIMEOUT)


def parse_version(text: str) -> Version:
    """'6.1.192' -> (6, 1, 192, 1); a release candidate '7.3-rc7' / '7.3~rc7' -> (7, 3, 0, 0, 7),
    so that every rc sorts before the release."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(?:[-~]rc(\d+))?", text.strip())
    if not m:
        raise ValueError(f"not a kernel version: {text!r}")
    major, minor, patch, rc = m.groups()
    if rc is not None:
        return (int(major), int(minor), int(patch or 0), 0, int(rc))
    return (int(major), int(minor), int(patch or 0), 1)


def kernel_version(version_string: str, release: str) -> str:
    """The upstream version of a kernel: Debian's package version when the image names it
    (its `uname -r` says 6.1.0-56 for 6.1.192), else the release."""
    m = re.search(r"Debian (\d+\.\d+(?:\.\d+)?(?:~rc\d+)?)", version_string)
    if m:
        return m.group(1).replace("~", "-")
    m = re.match(r"\d+\.\d+(?:\.\d+)?(?:-rc\d+)?", release)
    return m.group(0) if m else release


@dataclass(frozen=True)
class Expectation:
    program: str
    subtest: str
    kernels: str
    reason: str
    reference: str

    def covers(self, program: str, subtest: str, version: Version) -> bool:
        if program != self.program or not fnmatch.fnmatchcase(subtest, self.subtest):
            return False
        for clause in self.kernels.split(","):
            m = re.fullmatch(r"\s*(>=|<=|==|>|<)\s*(\S+)\s*", clause)
            assert m is not None
            if not _COMPARE[m.group(1)](version, parse_version(m.group(2))):
                return False
        return True


def load(path: Path) -> list[Expectation]:
    """Read and check the file; a mistake in it is an infrastructure error naming the entry."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InfraError(
            f"expectations file {path} cannot be read: {e}",
            "fix the file, or run with --no-expectations",
        ) from None
    rules = []
    for i, entry in enumerate(data.get("expect", []), start=1):
        where = f"{path} entry {i}"
        missing = [k for k in FIELDS if not str(entry.get(k, "")).strip()]
        if missing:
            raise InfraError(f"{where} lacks {', '.join(missing)}", "every entry needs all five")
        for clause in str(entry["kernels"]).split(","):
            m = re.fullmatch(r"\s*(>=|<=|==|>|<)\s*(\S+)\s*", clause)
            try:
                if not m:
                    raise ValueError(clause)
                parse_version(m.group(2))
            except ValueError:
                raise InfraError(
                    f"{where}: kernels {entry['kernels']!r} is not a version range",
                    'write it like ">=6.1, <6.1.192"',
                ) from None
        rules.append(Expectation(*(str(entry[k]) for k in FIELDS)))
    return rules


def apply(result: ProgramResult, version: str, rules: list[Expectation]) -> None:
    """Turn covered failures into xfail and covered passes into xpass, in place.  A kernel
    whose version cannot be read matches no range."""
    try:
        parsed = parse_version(version)
    except ValueError:
        return
    for sub in result.subtests:
        rule = next((r for r in rules if r.covers(result.program, sub.subtest, parsed)), None)
        if rule is None:
            continue
        if sub.status in FAILING:
            sub.reason = (
                f"expected on {rule.kernels}: {rule.reason} [{rule.reference}] "
                f"(observed {sub.status.value}: {sub.reason})"
            )
            sub.status = Status.XFAIL
        elif sub.status is Status.PASS:
            sub.reason = (
                f"expected to fail on {rule.kernels} ({rule.reason} [{rule.reference}]) "
                "but passed: the kernel changed, review the expectation"
            )
            sub.status = Status.XPASS
