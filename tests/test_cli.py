"""Bad input exits 2 with one line naming the problem and the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def orchestrate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip


def assert_infra(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if "infrastructure error:" in ln or "error:" in ln]
    assert lines, text
    for word in words:
        assert word in text, (word, text)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--memory", "lots"], ["--memory", "256M"]),
        (["--kernel", "/nonexistent/bzImage"], ["/nonexistent/bzImage", "fix:"]),
        (["--kernel", "/etc/hostname"], ["not an x86 bzImage", "fix:"]),
        (["--kernel", "/etc"], ["directory without a Makefile", "fix:"]),
        (["--kernel", "debian:5.10"], ["unknown kernel preset", "debian:6.1"]),
        (
            ["--kernel", str(ROOT / "tests/fixtures/fake-kernel-tree")],
            ["cannot enable CONFIG_USERFAULTFD", "menuconfig"],
        ),
        (["--results", "/proc/no/such/dir"], ["not writable", "--results"]),
        (["--modules", "/tmp"], ["--modules", "--kernel"]),
        (["--no-such-option"], ["unrecognized arguments"]),
        (["--kernel", "my kernel=debian:6.1"], ["label", "fix:"]),
        (["--kernel", "a=debian:6.1", "--kernel", "a=debian:6.12"], ["labelled 'a'", "NAME=SPEC"]),
        (["--accel", "xen"], ["invalid choice"]),
        (["--baseline", "/nonexistent/run"], ["--baseline", "does not exist", "fix:"]),
        (["--baseline", "/etc/hostname"], ["not a residency-kselftest summary.json", "fix:"]),
        (["--subtest", "shmem_lseek"], ["PROGRAM:SUBTEST"]),
        (["--subtest", "no_such:x"], ["names no program", "shmem_lseek"]),
    ],
)
def test_bad_input(tmp_path: Path, args: list[str], words: list[str]) -> None:
    if "--results" not in args:
        args = [*args, "--results", str(tmp_path / "results")]
    assert_infra(orchestrate(*args), *words)
    leftovers = list((tmp_path / "results").glob("*")) if (tmp_path / "results").exists() else []
    assert not leftovers, "a failed start leaves no half-written run"


def test_missing_qemu(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))
    proc = orchestrate("--results", str(tmp_path / "r"), env=env)
    assert_infra(proc, "qemu-system-x86_64 is not on PATH", "apt-get install qemu-system-x86")


def test_selecting_nothing_is_infrastructure(tmp_path: Path) -> None:
    proc = orchestrate("--results", str(tmp_path / "r"), "-k", "no_such_program")
    assert_infra(proc, "no test program was selected", "-k")


@pytest.mark.parametrize(
    "args",
    [
        ["--no-such-option"],
        ["--memory", "lots"],
        ["--baseline", "/nonexistent/run"],
        ["-k", "no_such_program"],
    ],
)
def test_bisect_stops_on_errors_that_would_repeat_at_every_commit(
    tmp_path: Path, args: list[str]
) -> None:
    proc = orchestrate("--bisect", "--results", str(tmp_path / "r"), *args)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 128, text
    assert "Traceback" not in text


def test_bisect_skips_a_tree_that_cannot_give_a_testable_kernel(tmp_path: Path) -> None:
    """The fake tree's Kconfig cannot enable what the tests need: that commit is untestable."""
    tree = ROOT / "tests/fixtures/fake-kernel-tree"
    proc = orchestrate("--bisect", "--results", str(tmp_path / "r"), "--kernel", str(tree))
    text = proc.stdout + proc.stderr
    assert proc.returncode == 125, text
    assert "cannot enable CONFIG_USERFAULTFD" in text and "Traceback" not in text
