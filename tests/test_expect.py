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


RECORDED = Path(__file__).parent / "fixtures" / "recorded"


def recorded_subtest(tap: Path, name: str) -> SubtestResult:
    """A failed subtest with the diagnostic lines a real run printed before its result.
    The run was shmem_visibility's, which had the memory-pressure scenarios then; the
    scenario is shmem_pressure's now, under the same subtest name."""
    lines: list[str] = []
    for line in tap.read_text().splitlines():
        if line.startswith("# "):
            lines.append(line[2:])
        elif line.startswith(("ok ", "not ok ")):
            if line.split(" # ")[0].endswith(" " + name):
                return SubtestResult("debian-7.3", "shmem_pressure", name, Status.FAIL,
                                     lines[0], lines)  # fmt: skip
            lines = []
    raise AssertionError(f"{name} not in {tap}")


def test_the_intermittent_seek_data_race_covers_only_its_own_failure() -> None:
    """The real expectations.toml against the real 7.3 run that hit the race."""
    rules = expect.load(Path(__file__).resolve().parent.parent / "expectations.toml")
    tap = RECORDED / "shmem_visibility-7.3-seek-data-migration.tap"
    race = recorded_subtest(tap, "memfd_memory_pressure")
    assert any("swp_type=27" in d for d in race.diagnostics)

    def failed(reason: str, line: str) -> SubtestResult:
        return SubtestResult(race.kernel, race.program, race.subtest, Status.FAIL, reason, [line])

    missed = next(d for d in race.diagnostics if "missed by SEEK_DATA" in d)
    other = failed("content", "read back: content of 3 of 26623 pages wrong")
    swapped = failed("swap", missed.replace("swp_type=27", "swp_type=0"))
    passed = SubtestResult(race.kernel, race.program, race.subtest, Status.PASS)
    for sub in (race, other, swapped, passed):
        program = ProgramResult(race.kernel, race.program, "completed", 1, 1.0, "", [sub])
        expect.apply(program, "7.3-rc7", rules)
    # The entry follows the scenario: the program it left is no longer covered.
    moved = SubtestResult(race.kernel, "shmem_visibility", race.subtest, Status.FAIL,
                          race.reason, race.diagnostics)  # fmt: skip
    expect.apply(ProgramResult(race.kernel, moved.program, "completed", 1, 1.0, "", [moved]),
                 "7.3-rc7", rules)  # fmt: skip
    assert race.status is Status.XFAIL and "under migration" in race.reason
    assert other.status is Status.FAIL, "a wrong page content is no race"
    assert swapped.status is Status.FAIL, "a page missed while really in swap (type 0) is no race"
    assert passed.status is Status.PASS, "intermittent: a run without the race stays a pass"
    assert moved.status is Status.FAIL, "shmem_visibility has no memory-pressure scenario now"


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ("intermittent = true\n", "intermittent but has no diagnostic"),
        ('diagnostic = "("\n', "is not a regular expression"),
        ('intermittent = "yes"\ndiagnostic = "x"\n', "intermittent true or false"),
    ],
)
def test_bad_diagnostic_or_intermittent_is_refused(
    tmp_path: Path, extra: str, complaint: str
) -> None:
    with pytest.raises(InfraError, match=complaint):
        expect.load(write(tmp_path, RULE + extra))
