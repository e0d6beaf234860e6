"""Versioned expectations: results a kernel range is known to get wrong, with the why.

The file (expectations.toml at the repository root) holds `[[expect]]` tables:

    program   = "shmem_pagemap"            # test program
    subtest   = "uffd_wp_*"                # subtest name, shell-style wildcards allowed
    kernels   = ">=6.1, <6.1.192"          # upstream version range, comma = and
    reason    = "what the kernel does and why it is wrong or different"
    reference = "commit / mailing-list thread / document"
    diagnostic = "regex"                   # optional: only failures with a matching line
    intermittent = true                    # optional: a race the run hits only sometimes

A failing result (fail, error, crash, timeout) that an entry covers becomes `xfail`;
a passing one becomes `xpass`, which fails the run: the kernel changed, so the entry
needs a look.  An entry with `diagnostic` covers a failure only when one of its
diagnostic lines matches that regular expression (so another failure of the same subtest
stays red).  An `intermittent` entry (a kernel race the suite hits only in some runs)
leaves a pass a pass; it needs `diagnostic`, to say which failure is the race.
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
    diagnostic: str = ""  # a failure is covered only when a diagnostic line matches
    intermittent: bool = False  # a pass stays a pass

    def explains(self, diagnostics: list[str]) -> bool:
        """Does this entry account for a failure with these diagnostic lines?"""
        if not self.diagnostic:
            return True
        pattern = re.compile(self.diagnostic)
        return any(pattern.search(line) for line in diagnostics)

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
        diagnostic = entry.get("diagnostic", "")
        intermittent = entry.get("intermittent", False)
        if not isinstance(diagnostic, str) or not isinstance(intermittent, bool):
            raise InfraError(
                f"{where}: diagnostic must be a string and intermittent true or false",
                'write diagnostic = "regex" and intermittent = true',
            )
        try:
            re.compile(diagnostic)
        except re.error as e:
            raise InfraError(
                f"{where}: diagnostic {diagnostic!r} is not a regular expression ({e})",
                "fix the pattern (Python re syntax)",
            ) from None
        if intermittent and not diagnostic:
            raise InfraError(
                f"{where} is intermittent but has no diagnostic",
                'say which failure is the race: diagnostic = "regex" matching its line',
            )
        program, subtest, kernels, reason, reference = (str(entry[k]) for k in FIELDS)
        rules.append(
            Expectation(program, subtest, kernels, reason, reference, diagnostic, intermittent)
        )
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
        if sub.status in FAILING and rule.explains(sub.diagnostics):
            sub.reason = (
                f"expected on {rule.kernels}: {rule.reason} [{rule.reference}] "
                f"(observed {sub.status.value}: {sub.reason})"
            )
            sub.status = Status.XFAIL
        elif sub.status is Status.PASS and not rule.intermittent:
            sub.reason = (
                f"expected to fail on {rule.kernels} ({rule.reason} [{rule.reference}]) "
                "but passed: the kernel changed, review the expectation"
            )
            sub.status = Status.XPASS
