"""Project test options: slow tests (building a kernel) run only when asked."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", help="also run tests marked slow (kernel builds)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: builds a kernel; run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
