"""The suite's one test: run a kselftest program on a kernel (parametrized by the plugin)."""

from __future__ import annotations

import pytest

from .lab import Lab


def test_program(case: tuple[str, str], lab: Lab) -> None:
    kernel, program = case
    result = lab.run(kernel, program)
    bad = [s for s in result.subtests if s.status.is_bad]
    if bad:
        lines = [f"{s.status.value} {s.subtest}: {s.reason}" for s in bad]
        pytest.fail(f"{program} on {kernel}:\n" + "\n".join(lines), pytrace=False)
