"""Versioned expectations: version parsing, ranges, and how results change."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import expect
from orchestrator.errors import InfraError
from orchestrator.run import ProgramResult, SubtestResult
from orchestrator.status import Status


def test_versions_order_rcs_before_releases() -> None:
    v = expect.parse_version
    assert v("7.3-rc7") < v("7.3") < v("7.3.1")
    assert v("7.3~rc7") == v("7.3-rc7")
    assert v("6.1.191") < v("6.1.192") < v("6.12")


def test_kernel_version_prefers_the_debian_package_version() -> None:
    debian = "6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.192-2"
    assert expect.kernel_version(debian, "6.1.0-56-cloud-amd64") == "6.1.192"
    rc = "7.3-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 7.3~rc7-1~exp1"
    assert expect.kernel_version(rc, "7.3-cloud-amd64") == "7.3-rc7"
    assert expect.kernel_version("6.13.0-rc2+ (me@box) #1", "6.13.0-rc2+") == "6.13.0-rc2"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "expectations.toml"
    path.write_text(body)
    return path


RULE = """
[[expect]]
program = "p"
subtest = "uffd_*"
kernels = ">=6.1, <6.1.192"
reason = "close() left markers"
reference = "c88033efe9a3"
"""


def result() -> ProgramResult:
    subs = [
        SubtestResult("k", "p", "uffd_close", Status.FAIL, "marker still set"),
        SubtestResult("k", "p", "uffd_unregister", Status.PASS),
        SubtestResult("k", "p", "other", Status.FAIL, "real failure"),
        SubtestResult("k", "p", "uffd_skip", Status.SKIP, "no uffd"),
    ]
    return ProgramResult("k", "p", "completed", 1, 1.0, "", subs)


def test_covered_failures_become_xfail_and_passes_xpass(tmp_path: Path) -> None:
    rules = expect.load(write(tmp_path, RULE))
    r = result()
    expect.apply(r, "6.1.150", rules)
    got = {s.subtest: s.status for s in r.subtests}
    assert got == {
        "uffd_close": Status.XFAIL,
        "uffd_unregister": Status.XPASS,
        "other": Status.FAIL,
        "uffd_skip": Status.SKIP,
    }
    assert "c88033efe9a3" in r.subtests[0].reason
    assert "marker still set" in r.subtests[0].reason


def test_outside_the_range_nothing_changes(tmp_path: Path) -> None:
    rules = expect.load(write(tmp_path, RULE))
    r = result()
    expect.apply(r, "6.1.192", rules)
    assert [s.status for s in r.subtests] == [Status.FAIL, Status.PASS, Status.FAIL, Status.SKIP]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[[expect]]\nprogram = "p"\n', "lacks subtest"),
        (RULE.replace(">=6.1, <6.1.192", "since 6.1"), "not a version range"),
        ("[[expect]\n", "cannot be read"),
    ],
)
def test_a_broken_file_is_an_infrastructure_error(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(InfraError) as err:
        expect.load(write(tmp_path, body))
    assert words in err.value.cause


def test_the_repository_file_loads() -> None:
    expect.load(Path(__file__).resolve().parent.parent / "expectations.toml")
