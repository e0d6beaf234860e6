"""The suite's one test: run a kselftest program on a kernel (parametrized by the plugin)."""

from __future__ import annotations

import pytest

from .lab import Lab


def test_program(case: tuple[str, str], lab: Lab) -> None:
    kernel, program = case
    result = lab.run(kernel, program)
    lines = lab.deciding(result)
    if lines:
        pytest.fail(f"{program} on {kernel}:\n" + "\n".join(lines), pytrace=False)
