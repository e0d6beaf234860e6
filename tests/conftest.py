"""Project test options: slow tests (building a kernel) run only when asked; the kernel
source tree they build."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.cache import default_cache_dir
from orchestrator.upstream import unpack_source_deb

pytest_plugins = ["pytester"]  # tests/test_plugin_options.py parses command lines with it


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


@pytest.fixture(scope="session")
def linux_source() -> Path:
    """$RESIDENCY_KERNEL_TREE, else the newest linux-source-X.Y the host's apt knows,
    unpacked once into the cache."""
    if os.environ.get("RESIDENCY_KERNEL_TREE"):
        return Path(os.environ["RESIDENCY_KERNEL_TREE"])
    found = subprocess.run(
        ["apt-cache", "search", "--names-only", r"^linux-source-[0-9.]+$"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    names = sorted((n for n in found if n.startswith("linux-source-")),
                   key=lambda n: [int(x) for x in n.split("-")[-1].split(".")])  # fmt: skip
    assert names, "apt knows no linux-source package"
    package = names[-1]
    base = default_cache_dir() / "src" / package
    tree = base / package
    if (tree / "Makefile").is_file():
        return tree
    base.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=base, check=True, capture_output=True)
    return unpack_source_deb(next(base.glob("*.deb")), base)
