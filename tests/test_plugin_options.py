"""The suite's options beside those of common pytest plugins, installed for real (the dev
extra has pytest-timeout, pytest-cov and pytest-rerunfailures; pytest-xdist is a dependency):
`--help` works and lists them all, and --timeout, pytest-timeout's name, is either the old
spelling of --program-timeout (that plugin absent) or refused with the new name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.options import program_timeout

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = {
    "pytest_timeout": ["--timeout", "--timeout-method"],
    "xdist": ["--numprocesses", "--dist"],
    "pytest_cov": ["--cov", "--cov-report"],
    "pytest_rerunfailures": ["--reruns", "--only-rerun"],
}
SUITE = [
    "--kernel", "--modules", "--memory", "--swap", "--smp", "--accel", "--machine",
    "--program-timeout", "--boot-timeout", "--retry-failed", "--selftests", "--expectations",
    "--no-expectations", "--refresh-kernels", "--merge-config", "--console", "--results",
    "--baseline", "--subtest", "--bisect", "--cache-dir",
]  # fmt: skip


def orchestrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def plugins_installed() -> None:
    for module in PLUGINS:
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[dev])")


def suite_section(help_text: str) -> str:
    start = help_text.index("page-residency kselftests under QEMU:")
    return help_text[start : help_text.index("\n\n", start)]


def test_help_lists_the_suite_and_every_plugin() -> None:
    proc = orchestrate("--help")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr
    for option in [o for options in PLUGINS.values() for o in options]:
        assert re.search(rf"[ ,]{option}[=\s]", proc.stdout), option
    ours = suite_section(proc.stdout)
    for option in SUITE:
        assert re.search(rf"\n  {option}[=\s]", ours), option
    assert not re.search(r"\n  --timeout[=\s]", ours), "pytest-timeout's, not the suite's"


def test_help_says_what_kernel_takes() -> None:
    ours = " ".join(suite_section(orchestrate("--help").stdout).split())
    kernel = ours[ours.index("--kernel=") : ours.index("--modules=")]
    for words in ["debian:NAME", "6.1, 6.12", "source tree", "make O= build directory",
                  "kernel image", "NAME= labels"]:  # fmt: skip
        assert words in kernel, words


@pytest.mark.parametrize("args", [["--timeout", "300"], ["--timeout=300"]])
def test_old_timeout_spelling_beside_pytest_timeout_names_the_new_one(
    tmp_path: Path, args: list[str]
) -> None:
    proc = orchestrate("--results", str(tmp_path / "r"), *args)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "pytest-timeout" in text and "--program-timeout SECONDS" in text, text
    assert "Traceback" not in text and not (tmp_path / "r").exists()
    bisect = orchestrate("--bisect", "--results", str(tmp_path / "r"), *args)
    assert bisect.returncode == 128, bisect.stdout + bisect.stderr


def test_old_timeout_spelling_is_the_suites_without_pytest_timeout(tmp_path: Path) -> None:
    proc = orchestrate("-p", "no:timeout", "--results", str(tmp_path / "r"), "--timeout", "0")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "--timeout 0 is not positive" in text and "Traceback" not in text
    assert "  --timeout=SECONDS" in orchestrate("-p", "no:timeout", "--help").stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-p", "no:timeout", "--timeout", "77"], (77, "--timeout")),
        (["--program-timeout", "88"], (88, "--program-timeout")),
        (
            ["-p", "no:timeout", "--timeout", "77", "--program-timeout", "88"],
            (88, "--program-timeout"),
        ),
        ([], (None, "--program-timeout")),
    ],
)
def test_the_timeout_reaches_the_options(
    pytester: pytest.Pytester, args: list[str], expected: tuple[int | None, str]
) -> None:
    config = pytester.parseconfig("-p", "orchestrator.plugin", *args)
    assert program_timeout(config) == expected
