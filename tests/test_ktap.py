"""Tests for orchestrator.ktap, on real recorded output and on generated input.

The fixtures and where they come from are listed in tests/fixtures/ktap/README.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.ktap import SYNTHETIC_REASON, TapDocument, TestResult, parse
from orchestrator.status import Status

FIXTURES = Path(__file__).parent / "fixtures" / "ktap"

P, F, S = Status.PASS, Status.FAIL, Status.SKIP
DIRECTIVES = {None, "SKIP", "TODO", "XFAIL", "XPASS", "TIMEOUT", "ERROR"}


def load(name: str) -> TapDocument:
    # Bytes, so that '\r\n' reaches the parser as recorded.
    return parse((FIXTURES / name).read_bytes().decode("utf-8"))


def summary(results: list[TestResult]) -> list[tuple[int | None, str, Status]]:
    return [(r.number, r.name, r.status) for r in results]


def check_invariants(doc: TapDocument) -> None:
    """What must hold for any input whatsoever."""
    assert not [p for p in doc.problems if "internal parser error" in p]
    sibling_lists = [doc.results] + [r.subtests for _, r in doc.walk()]
    for siblings in sibling_lists:
        names = [r.name for r in siblings if r.name]
        assert len(names) == len(set(names)), names
    for _, result in doc.walk():
        assert result.status is not Status.CRASH
        assert result.directive in DIRECTIVES
        if result.raw == "":
            assert result.status is Status.ERROR
            assert result.reason == SYNTHETIC_REASON
    assert all(n >= 1 for n in doc.missing)
    if doc.plan is None:
        assert doc.missing == []


# ----------------------------------------------------------- recorded kselftest.h


def test_ksft_pass() -> None:
    doc = load("ksft_pass.tap")
    assert doc.version == "TAP version 13"
    assert doc.plan == 3
    assert summary(doc.results) == [
        (1, "mincore_anon_populated", P),
        (2, "pagemap_present_bit", P),
        (3, "seek_data_shmem_hole", P),
    ]
    assert doc.results[0].diagnostics == ["page size 4096"]
    assert doc.results[0].raw == "ok 1 mincore_anon_populated"
    assert doc.missing == []
    assert doc.bailed_out is None
    assert doc.skip_all is None
    assert doc.totals == {"pass": 3, "fail": 0, "xfail": 0, "xpass": 0, "skip": 0, "error": 0}
    assert doc.trailing_diagnostics == ["Totals: pass:3 fail:0 xfail:0 xpass:0 skip:0 error:0"]
    assert doc.problems == []
    check_invariants(doc)


def test_ksft_mixed_results_directives_and_duplicates() -> None:
    doc = load("ksft_mixed.tap")
    assert summary(doc.results) == [
        (1, "mincore_anon", P),
        (2, "mincore_shmem", F),
        (3, "", S),
        (4, "", S),
        (5, "", Status.XFAIL),
        (6, "", Status.ERROR),
        (7, "mincore_anon_dup2", P),
        (8, "seek_hole_end", P),
    ]
    fail, skip_msg, skip_bare, xfail, error = doc.results[1:6]
    assert fail.diagnostics == ["expected 16 resident pages, got 15"]
    assert (skip_msg.directive, skip_msg.reason) == ("SKIP", "swap is not enabled")
    assert (skip_bare.directive, skip_bare.reason) == ("SKIP", "")
    assert (xfail.directive, xfail.reason) == ("XFAIL", "pagemap_swap_bit_on_shmem")
    assert (error.directive, error.reason) == ("ERROR", "madvise(MADV_PAGEOUT): Invalid argument")
    assert doc.results[6].raw == "ok 7 mincore_anon"
    assert any("duplicate test name 'mincore_anon'" in p for p in doc.problems)
    # kselftest.h's own counters agree with what we parsed.
    counts = {
        "pass": sum(r.status is P for r in doc.results),
        "fail": sum(r.status is F for r in doc.results),
        "xfail": sum(r.status is Status.XFAIL for r in doc.results),
        "xpass": sum(r.status is Status.XPASS for r in doc.results),
        "skip": sum(r.status is S for r in doc.results),
        "error": sum(r.status is Status.ERROR for r in doc.results),
    }
    assert doc.totals == counts
    assert doc.missing == []
    check_invariants(doc)


def test_ksft_crlf_from_a_pty_parses_like_lf() -> None:
    raw = (FIXTURES / "ksft_mixed_pty_crlf.tap").read_bytes()
    assert b"\r\n" in raw
    crlf = load("ksft_mixed_pty_crlf.tap")
    lf = load("ksft_mixed.tap")
    assert crlf.results == lf.results
    assert crlf.totals == lf.totals
    assert crlf.problems == lf.problems


def test_ksft_skip_all() -> None:
    doc = load("ksft_skip_all.tap")
    assert doc.skip_all == "MADV_POPULATE_READ is not supported by this kernel"
    assert doc.plan == 0
    assert doc.results == []
    assert doc.missing == []
    check_invariants(doc)


def test_ksft_bail_out() -> None:
    doc = load("ksft_bail.tap")
    assert doc.bailed_out == "mmap failed: Cannot allocate memory"
    assert summary(doc.results) == [(1, "memfd_create", P)]
    assert doc.missing == [2, 3]
    assert doc.totals is not None and doc.totals["pass"] == 1
    check_invariants(doc)


def test_ksft_crash_truncated_output_gives_missing() -> None:
    doc = load("ksft_crash_truncated.tap")
    assert doc.plan == 4
    assert summary(doc.results) == [(1, "populate_read", P), (2, "populate_write", P)]
    assert doc.missing == [3, 4]
    assert doc.totals is None
    assert doc.trailing_diagnostics == ["touching unmapped page"]
    check_invariants(doc)


# ------------------------------------------------------------- recorded runner.sh


def test_runner_prefixed_nesting() -> None:
    doc = load("runner_mm.tap")
    assert doc.version == "TAP version 13"
    assert doc.plan == 7
    assert doc.missing == []
    assert doc.totals is None  # only the programs print Totals, one level down
    top = doc.results
    assert [(r.number, r.name, r.status, r.directive, r.reason) for r in top] == [
        (1, "selftests: mm: residency_pass", P, None, ""),
        (2, "selftests: mm: residency_mixed", F, None, "exit=1"),
        # runner.sh says only '# SKIP'; the reason comes from the program's '1..0 # SKIP'.
        (
            3,
            "selftests: mm: residency_skipall",
            S,
            "SKIP",
            "MADV_POPULATE_READ is not supported by this kernel",
        ),
        (4, "selftests: mm: residency_bail", F, None, "exit=1"),
        (5, "selftests: mm: residency_crash", F, None, "exit=139"),
        (6, "selftests: mm: residency_timeout", Status.TIMEOUT, "TIMEOUT", "2 seconds"),
        (7, "selftests: mm: ksft_residency.sh", F, None, "exit=1"),
    ]
    assert [len(r.subtests) for r in top] == [3, 8, 0, 1, 2, 1, 3]
    assert top[0].diagnostics[:2] == ["timeout set to 2", "selftests: mm: residency_pass"]
    assert "Totals: pass:3 fail:0 xfail:0 xpass:0 skip:0 error:0" in top[0].diagnostics
    mixed = top[1].subtests
    assert [r.status for r in mixed] == [P, F, S, S, Status.XFAIL, Status.ERROR, P, P]
    assert mixed[1].diagnostics == ["expected 16 resident pages, got 15"]
    assert mixed[6].name == "mincore_anon_dup2"
    assert "Bail out! mmap failed: Cannot allocate memory" in top[3].diagnostics
    assert "touching unmapped page" in top[4].diagnostics
    assert summary(top[4].subtests) == [(1, "populate_read", P), (2, "populate_write", P)]
    problems = "\n".join(doc.problems)
    assert "'selftests: mm: residency_crash': 2 of 4 planned subtests" in problems
    assert "a subtest bailed out: mmap failed" in problems
    # run_vmtests.sh inside runner.sh: three levels, with a trailing plan in the middle one.
    wrapper = top[6]
    assert summary(wrapper.subtests) == [
        (1, "residency_pass", P),
        (2, "residency_skipall", S),
        (3, "residency_mixed", F),
    ]
    assert [r.name for r in wrapper.subtests[0].subtests] == [
        "mincore_anon_populated",
        "pagemap_present_bit",
        "seek_data_shmem_hole",
    ]
    assert wrapper.subtests[0].subtests[0].diagnostics == ["page size 4096"]
    assert len(wrapper.subtests[2].subtests) == 8
    assert wrapper.subtests[1].reason == "MADV_POPULATE_READ is not supported by this kernel"
    assert "running ./residency_pass" in wrapper.subtests[0].diagnostics
    assert "plan line after the results" in problems
    check_invariants(doc)


def test_runner_truncated_mid_test() -> None:
    """The VM died while test 5 ran: 5..7 are missing, 5 gets a stand-in parent."""
    doc = load("runner_mm_truncated.tap")
    assert doc.plan == 7
    assert doc.missing == [5, 6, 7]
    assert [r.number for r in doc.results] == [1, 2, 3, 4, 5]
    standin = doc.results[-1]
    assert standin.raw == ""
    assert standin.name == "selftests: mm: residency_crash"
    assert standin.status is Status.ERROR
    assert standin.reason == SYNTHETIC_REASON
    assert summary(standin.subtests) == [(1, "populate_read", P), (2, "populate_write", P)]
    assert "touching unmapped page" in standin.diagnostics
    assert any("no parent result line" in p for p in doc.problems)
    check_invariants(doc)


# ------------------------------------------------------- kunit test_data, ktap.rst


def test_kunit_nested_tabs_and_unknown_lines() -> None:
    doc = load("kunit_all_passed_nested.log")
    assert doc.version == "TAP version 14"
    assert summary(doc.results) == [(1, "sysctl_test", P), (2, "example", P)]
    sysctl = doc.results[0]
    assert [r.name for r in sysctl.subtests] == [
        "sysctl_test_dointvec_null_tbl_data",
        "example",
        "sysctl_test_dointvec_table_len_is_zero",
        "sysctl_test_dointvec_table_read_but_position_set",
    ]
    assert summary(sysctl.subtests[1].subtests) == [
        (1, "example_simple_test", P),
        (2, "example_mock_test", P),
    ]
    assert sysctl.subtests[1].subtests[0].diagnostics == [
        "example_simple_test: initializing",
        "example_simple_test: example_simple_test passed",
    ]
    assert doc.problems == []
    check_invariants(doc)


def test_kunit_failure_without_top_level_plan() -> None:
    doc = load("kunit_failure.log")
    assert doc.plan is None
    assert any("no plan line" in p for p in doc.problems)
    assert summary(doc.results) == [(1, "sysctl_test", P), (2, "example", F)]
    assert len(doc.results[0].subtests) == 8
    failed = doc.results[1].subtests[0]
    assert (failed.name, failed.status) == ("example_simple_test", F)
    assert (
        "example_simple_test: EXPECTATION FAILED at lib/kunit/example-test.c:30"
        in failed.diagnostics
    )
    assert doc.missing == []
    check_invariants(doc)


def test_kunit_crash_with_stack_trace_garbage() -> None:
    doc = load("kunit_crash.log")
    assert doc.plan == 2
    assert summary(doc.results) == [(1, "sysctl_test", P), (2, "example", F)]
    crashed = doc.results[1].subtests[0]
    assert crashed.status is F
    assert "example_simple_test: kunit test case crashed!" in crashed.diagnostics
    assert doc.missing == []
    check_invariants(doc)


def test_kunit_kselftest_runner_nesting() -> None:
    doc = load("kunit_kselftest.log")
    assert summary(doc.results) == [
        (1, "selftests: membarrier: membarrier_test_single_thread", P),
        (2, "selftests: membarrier: membarrier_test_multi_thread", P),
    ]
    for result in doc.results:
        assert [r.name for r in result.subtests] == [
            "sys_membarrier available",
            "sys membarrier invalid command test: command = -1, flags = 0, errno = 22. "
            "Failed as expected",
        ]
    assert doc.problems == []
    check_invariants(doc)


def test_kunit_missing_plans() -> None:
    doc = load("kunit_missing_plan.log")
    assert doc.version == "KTAP version 1"
    assert doc.plan is None
    assert doc.missing == []
    assert summary(doc.results) == [(1, "sysctl_test", P), (2, "example", P)]
    assert [len(r.subtests) for r in doc.results] == [8, 2]
    check_invariants(doc)


def test_kunit_empty_plan() -> None:
    doc = load("kunit_no_tests_run_with_header.log")
    assert (doc.plan, doc.results, doc.skip_all, doc.missing) == (0, [], None, [])
    assert doc.problems == []


@pytest.mark.parametrize(
    ("fixture", "top", "sub"),
    [
        ("kunit_skip_tests.log", [P, P], [[P, P, P], [P, S]]),
        ("kunit_skip_all_tests.log", [S, S], [[S, S, S], [S, S]]),
    ],
)
def test_kunit_skips_four_space_indent(
    fixture: str, top: list[Status], sub: list[list[Status]]
) -> None:
    doc = load(fixture)
    assert [r.status for r in doc.results] == top
    assert [[s.status for s in r.subtests] for r in doc.results] == sub
    skipped = doc.results[1].subtests[1]
    assert (skipped.name, skipped.reason) == ("example_skip_test", "this test should be skipped")
    assert doc.problems == []
    check_invariants(doc)


@pytest.mark.parametrize(
    ("fixture", "plan"),
    [
        ("kunit_interrupted_tap_output.log", None),
        ("kunit_multiple_prefixes.log", 3),
        ("kunit_pound_sign.log", 3),
    ],
)
def test_kunit_console_timestamp_prefixes(fixture: str, plan: int | None) -> None:
    doc = load(fixture)
    assert doc.version == "TAP version 14"
    assert doc.plan == plan
    assert summary(doc.results) == [
        (1, "kunit-resource-test", P),
        (2, "kunit-try-catch-test", P),
        (3, "string-stream-test", P),
    ]
    assert [len(r.subtests) for r in doc.results] == [5, 2, 3]
    for _, result in doc.walk():
        assert result.raw.startswith("ok ")
        assert result.diagnostics == []  # kernel messages in between are unknown lines
    assert doc.missing == []
    check_invariants(doc)


def test_kunit_kernel_panic_mid_suite() -> None:
    doc = load("kunit_kernel_panic_interrupt.log")
    assert summary(doc.results) == [
        (1, "kunit-resource-test", P),
        (2, "kunit-try-catch-test", P),
        (3, "string-stream-test", Status.ERROR),
    ]
    standin = doc.results[2]
    assert standin.raw == ""
    assert summary(standin.subtests) == [(1, "string_stream_test_empty_on_creation", P)]
    assert any("2 of 3 planned subtests have no result line (2, 3)" in p for p in doc.problems)
    check_invariants(doc)


def test_kunit_subtest_header_two_space_ktap() -> None:
    doc = load("kunit_parse_subtest_header.log")
    assert doc.version == "KTAP version 1"
    assert summary(doc.results) == [(1, "suite", P)]
    assert summary(doc.results[0].subtests) == [(1, "test", P)]
    assert doc.problems == []


def test_ktap_rst_example() -> None:
    doc = load("ktap_rst_nested.ktap")
    assert summary(doc.results) == [(1, "main_test", F)]
    middle = doc.results[0].subtests
    assert summary(middle) == [
        (1, "example_test_1", P),
        (2, "example_test_2", P),
        (3, "example_test_3", F),
    ]
    assert middle[0].subtests[0].diagnostics == ["test_1: initializing test_1"]
    assert [(r.status, r.reason) for r in middle[1].subtests] == [(S, "test_1 skipped"), (P, "")]
    assert [r.status for r in middle[2].subtests] == [P, F, S]
    assert middle[2].subtests[1].diagnostics == ["test_2: FAIL"]
    assert doc.problems == []
    check_invariants(doc)


def test_ktap_rst_multiple_levels() -> None:
    doc = load("ktap_rst_multilevel.ktap")
    assert summary(doc.results) == [(1, "example_test_1", F), (2, "example_test_2", P)]
    level2 = doc.results[0].subtests
    assert summary(level2) == [(1, "test_3", F), (2, "test_4", S)]
    assert summary(level2[0].subtests) == [(1, "test_1", F), (2, "test_2", P)]
    assert doc.problems == []


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.*")), ids=lambda p: p.name)
def test_every_fixture_keeps_the_invariants(path: Path) -> None:
    check_invariants(parse(path.read_bytes().decode("utf-8")))


# ------------------------------------------------------------------ rules, inline


@pytest.mark.parametrize(
    ("line", "name", "status", "directive", "reason"),
    [
        ("ok 1 test_case_name", "test_case_name", P, None, ""),
        ("not ok 1 test_case_name", "test_case_name", F, None, ""),
        ("ok 1 - dash name", "dash name", P, None, ""),
        (
            "ok 1 test # SKIP necessary dependency unavailable",
            "test",
            S,
            "SKIP",
            "necessary dependency unavailable",
        ),
        ("not ok 1 test # skip lower case", "test", S, "SKIP", "lower case"),
        ("ok 3 # SKIP", "", S, "SKIP", ""),
        ("ok 3 # SKIP reason only", "", S, "SKIP", "reason only"),
        ("not ok 1 test # TIMEOUT 30 seconds", "test", Status.TIMEOUT, "TIMEOUT", "30 seconds"),
        ("ok 5 check return code # rcode=0", "check return code", P, None, "rcode=0"),
        ("not ok 1 t # TODO not done", "t", Status.XFAIL, "TODO", "not done"),
        ("ok 1 t # todo", "t", Status.XPASS, "TODO", ""),
        ("ok 5 # XFAIL pagemap_swap_bit", "", Status.XFAIL, "XFAIL", "pagemap_swap_bit"),
        ("not ok 5 t # xfail", "t", Status.XFAIL, "XFAIL", ""),
        ("ok 2 t # XPASS surprise", "t", Status.XPASS, "XPASS", "surprise"),
        ("not ok 6 # error madvise failed", "", Status.ERROR, "ERROR", "madvise failed"),
        ("not ok 6 t # ERROR", "t", Status.ERROR, "ERROR", ""),
        ("not ok 5 selftests: mm: x # exit=139", "selftests: mm: x", F, None, "exit=139"),
        ("ok 1 a \\# b", "a # b", P, None, ""),
        ("ok 1 t # Skipped: no swap", "t", S, "SKIP", "no swap"),
        ("ok 1 t #", "t", P, None, ""),
        ("ok 1", "", P, None, ""),
        # kselftest.h's ksft_test_result_code(): '#' and two spaces is a message, not a
        # directive, even when it starts with a directive's word
        ("ok 3 name #  message 0", "name", P, None, "message 0"),
        (
            "not ok 4 name #  error: pagemap read failed",
            "name",
            F,
            None,
            "error: pagemap read failed",
        ),
        ("not ok 4 name #  skipped a page", "name", F, None, "skipped a page"),
        ("ok 2 t #  TODO is text here", "t", P, None, "TODO is text here"),
        ("not ok 5 hash #  a # SKIP inside", "hash", F, None, "a # SKIP inside"),
        ("not ok 6 t #\t timeout after 3 s", "t", F, None, "timeout after 3 s"),
        ("ok 5 code_4 # SKIP message 4", "code_4", S, "SKIP", "message 4"),
    ],
)
def test_result_lines(
    line: str, name: str, status: Status, directive: str | None, reason: str
) -> None:
    doc = parse(f"KTAP version 1\n1..1\n{line}\n")
    assert len(doc.results) == 1
    result = doc.results[0]
    number = next(int(word) for word in line.split()[:3] if word.isdigit())
    assert (result.number, result.name, result.status) == (number, name, status)
    assert (result.directive, result.reason, result.raw) == (directive, reason, line)


def test_ksft_test_result_code_lines_from_the_kernels_header() -> None:
    """Output of tests/kselftest_probe built against Linux 7.3's kselftest.h."""
    doc = parse(
        "TAP version 13\n1..5\n"
        "ok 1 code_0 #  message 0\n"
        "not ok 2 code_1 #  message 1\n"
        "ok 3 code_2 # XFAIL message 2\n"
        "ok 4 code_3 # XPASS message 3\n"
        "ok 5 code_4 # SKIP message 4\n"
        "# 1 skipped test(s) detected. Consider enabling relevant config options to improve"
        " coverage.\n"
        "# Totals: pass:1 fail:1 xfail:1 xpass:1 skip:1 error:0\n"
    )
    assert [(r.name, r.status, r.directive, r.reason) for r in doc.results] == [
        ("code_0", P, None, "message 0"),
        ("code_1", F, None, "message 1"),
        ("code_2", Status.XFAIL, "XFAIL", "message 2"),
        ("code_3", Status.XPASS, "XPASS", "message 3"),
        ("code_4", S, "SKIP", "message 4"),
    ]
    assert doc.totals == {"pass": 1, "fail": 1, "xfail": 1, "xpass": 1, "skip": 1, "error": 0}
    assert doc.problems == []


def test_missing_version_line_is_a_problem_but_parses() -> None:
    doc = parse("1..2\nok 1 a\nnot ok 2 b\n")
    assert doc.version is None
    assert any("no version line" in p for p in doc.problems)
    assert summary(doc.results) == [(1, "a", P), (2, "b", F)]


def test_trailing_plan_and_missing() -> None:
    doc = parse("TAP version 13\nok 1 a\nok 3 c\n1..4\n")
    assert doc.plan == 4
    assert doc.missing == [2, 4]
    problems = "\n".join(doc.problems)
    assert "line 3: expected test number 2, got 3" in problems
    assert "line 4: plan line after the results" in problems


def test_numbers_may_be_omitted() -> None:
    doc = parse("TAP version 13\n1..2\nok a\nnot ok b\n")
    assert summary(doc.results) == [(None, "a", P), (None, "b", F)]
    assert doc.missing == []


def test_parent_ok_but_subtest_failed_is_a_problem() -> None:
    doc = parse("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 inner\nok 1 outer\n")
    assert doc.results[0].status is P  # kept as printed
    assert doc.results[0].subtests[0].status is F
    assert any("'outer' says ok but a subtest failed" in p for p in doc.problems)


def test_bail_out_then_more_results() -> None:
    doc = parse("TAP version 13\n1..3\nok 1 a\nBail out! no memory\nok 2 b\n")
    assert doc.bailed_out == "no memory"
    assert [r.name for r in doc.results] == ["a", "b"]
    assert doc.missing == [3]


def test_duplicate_names_among_siblings_only() -> None:
    text = (
        "KTAP version 1\n1..3\n"
        "  KTAP version 1\n  1..2\n  ok 1 t\n  ok 2 t\nok 1 s\n"
        "  KTAP version 1\n  1..1\n  ok 1 t\nok 2 s\n"
        "ok 3 s_dup2\n"
    )
    doc = parse(text)
    assert [r.name for r in doc.results] == ["s", "s_dup2", "s_dup2_dup2"]
    assert [r.name for r in doc.results[0].subtests] == ["t", "t_dup2"]
    assert [r.name for r in doc.results[1].subtests] == ["t"]
    assert sum("duplicate test name" in p for p in doc.problems) == 3


def test_repeated_top_level_header_from_old_runner() -> None:
    text = (
        "TAP version 13\n1..2\n# selftests: a: x\nok 1 selftests: a: x\n"
        "# selftests: a: y\nok 2 selftests: a: y\n"
        "TAP version 13\n1..1\n# selftests: b: z\nnot ok 1 selftests: b: z # exit=1\n"
    )
    doc = parse(text)
    assert doc.plan == 3
    assert summary(doc.results) == [
        (1, "selftests: a: x", P),
        (2, "selftests: a: y", P),
        (1, "selftests: b: z", F),
    ]
    assert doc.missing == []
    assert not [p for p in doc.problems if "expected test number" in p]
    assert any("version line repeated" in p for p in doc.problems)


def test_subtest_header_names_a_standin() -> None:
    doc = parse("KTAP version 1\n1..2\n    # Subtest: suite_a\n    1..3\n    ok 1 t\n")
    assert doc.missing == [1, 2]
    assert [(r.number, r.name, r.raw) for r in doc.results] == [(1, "suite_a", "")]


def test_skip_all_without_reason() -> None:
    doc = parse("TAP version 13\n1..0 # SKIP\n")
    assert (doc.plan, doc.skip_all, doc.results) == (0, "", [])


def test_program_message_before_its_header_under_runner() -> None:
    text = (
        "TAP version 13\n1..1\n# selftests: mm: t\n"
        "# # checking swap\n# TAP version 13\n# 1..1\n# ok 1 a\nok 1 selftests: mm: t\n"
    )
    doc = parse(text)
    assert doc.results[0].diagnostics == ["selftests: mm: t"]
    assert doc.results[0].subtests[0].diagnostics == ["checking swap"]


def test_level_without_preamble_under_deeper_subtests() -> None:
    # The middle level prints its first line only after its own subtests.
    text = "KTAP version 1\n1..1\n    ok 1 leaf\n  # mid diag\n  ok 1 mid\nok 1 top\n"
    doc = parse(text)
    top = doc.results[0]
    assert summary(top.subtests) == [(1, "mid", P)]
    assert top.subtests[0].diagnostics == ["mid diag"]
    assert summary(top.subtests[0].subtests) == [(1, "leaf", P)]
    assert doc.problems == []


def test_unindented_subtest_header_names_the_block() -> None:
    doc = parse("KTAP version 1\n1..2\n# Subtest: suite\n  1..1\n  ok 1 t\n")
    assert [(r.number, r.name, r.raw) for r in doc.results] == [(1, "suite", "")]
    assert doc.missing == [1, 2]


def test_totals_line() -> None:
    doc = parse(
        "TAP version 13\n1..1\nok 1 a\n# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0\n"
    )
    assert doc.totals == {"pass": 1, "fail": 0, "xfail": 0, "xpass": 0, "skip": 0, "error": 0}


def test_timestamp_prefix_crlf_nul_ansi_and_garbage() -> None:
    plain = load("ksft_mixed.tap")
    lines = (FIXTURES / "ksft_mixed.tap").read_text().splitlines()
    noisy: list[str] = ["[    0.000000] Linux version 6.1.0 (gcc)", "\x00\x00\x00"]
    for i, line in enumerate(lines):
        noisy.append(f"[{12 + i * 0.5:12.6f}] {line}")
        noisy.append(f"[{12 + i * 0.5:12.6f}] \x1b[31mrandom: crng init done\x1b[0m")
        noisy.append("systemd[1]: Started foo.service \x00 ok")
        noisy.append("\x1b[0m[  OK  ] Reached target Basic System.")
    doc = parse("\r\n".join(noisy) + "\r\n")
    assert doc.results == plain.results
    assert doc.totals == plain.totals
    assert doc.version == "TAP version 13"


def test_walk_is_depth_first_with_parents_last() -> None:
    doc = load("ktap_rst_multilevel.ktap")
    assert [path for path, _ in doc.walk()] == [
        ("example_test_1", "test_3", "test_1"),
        ("example_test_1", "test_3", "test_2"),
        ("example_test_1", "test_3"),
        ("example_test_1", "test_4"),
        ("example_test_1",),
        ("example_test_2",),
    ]


HOSTILE = {
    "empty": "",
    "blank lines": "\n\n\n",
    "hashes": "#" * 200_000,
    "many markers": "# " * 50_000 + "ok 1 x",
    "long description": "ok 1 " + "a" * 1_000_000,
    "huge plan": "TAP version 13\n1..999999999999999999\nok 1 a\n",
    "huge nested plans": "TAP version 13\n"
    + "".join(f"{' ' * i}1..999999999999\nok 1 x\n" for i in range(2000)),
    "ever deeper": "".join(" " * i + "ok 1 x\n" for i in range(3000)),
    "ever shallower": "".join(" " * (3000 - i) + "ok 1 x\n# d\n" for i in range(3000)),
    "many duplicates": "ok 1 x\n" * 20_000,
    "long prefix": "[" * 300 + "TAP version 13\n",
    "word prefix": "x" * 255 + "TAP version 13\n" + "x" * 255 + "ok 1 a\n",
    "huge number": "ok 99999999999999999999999999999999999999999\n",
    "carriage returns and NULs": "\r" * 1000 + "\x00" * 1000,
    "unterminated escape": "\x1b[" + ";" * 100_000,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_inputs_are_fast_and_safe(text: str) -> None:
    start = time.monotonic()
    doc = parse(text)
    assert time.monotonic() - start < 5
    assert not [p for p in doc.problems if "internal parser error" in p]


# --------------------------------------------------------------------- hypothesis

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
INDENT = st.sampled_from(["", "  ", "    ", "\t", "# ", "# # ", "#   ", "  # "])


@st.composite
def tap_like_lines(draw: st.DrawFn) -> str:
    """One line that is, or nearly is, something a TAP producer prints."""
    indent = draw(INDENT)
    body = draw(
        st.one_of(
            st.sampled_from(
                ["KTAP version 1", "TAP version 13", "TAP version 14", "TAP version 99"]
            ),
            st.builds("1..{}".format, st.integers(0, 30)),
            st.just("1..0 # SKIP no swap"),
            st.builds(
                "{} {}{}{}".format,
                st.sampled_from(["ok", "not ok"]),
                st.integers(0, 12),
                st.sampled_from(["", " ", " - "]).flatmap(lambda s: WORD.map(lambda w: s + w)),
                st.sampled_from(
                    [
                        "",
                        " # SKIP",
                        " # skip why",
                        " # TODO",
                        " # XFAIL x",
                        " # XPASS",
                        " # TIMEOUT 45 seconds",
                        " # error e",
                        " # exit=1",
                        " #",
                        " # rcode=0",
                    ]
                ),
            ),
            st.builds("# Subtest: {}".format, WORD),
            st.builds("# {}".format, st.text(max_size=20)),
            st.just("# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"),
            st.builds("Bail out! {}".format, WORD),
            st.text(max_size=30),
        )
    )
    stamp: str = draw(st.sampled_from(["", "[    1.234567] ", "[    0.060000][    T1] "]))
    return stamp + indent + str(body)


@FUZZ
@given(st.text())
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    check_invariants(parse(text))


@FUZZ
@given(
    st.lists(tap_like_lines(), max_size=60),
    st.sampled_from(["\n", "\r\n", "\r", "\n\x00"]),
)
def test_fuzz_tap_like_lines_never_raise(lines: list[str], newline: str) -> None:
    check_invariants(parse(newline.join(lines)))


# A generated well-formed document: a tree of tests, rendered in one of the styles
# real producers use, with unknown lines sprinkled in.

DIRECTIVE_STATUS: dict[tuple[bool, str | None], Status] = {
    (True, None): P,
    (False, None): F,
    (True, "SKIP"): S,
    (False, "SKIP"): S,
    (True, "TODO"): Status.XPASS,
    (False, "TODO"): Status.XFAIL,
    (True, "XFAIL"): Status.XFAIL,
    (False, "XFAIL"): Status.XFAIL,
    (True, "XPASS"): Status.XPASS,
    (False, "XPASS"): Status.XPASS,
    (False, "TIMEOUT"): Status.TIMEOUT,
    (False, "ERROR"): Status.ERROR,
}


@dataclass
class Node:
    ok: bool
    name: str
    directive: str | None  # as printed, any case; or None
    comment: str  # reason after the directive, or a free comment
    diags: list[str]
    children: list[Node] = field(default_factory=list)
    children_version: bool = False
    children_header: bool = False
    children_plan: str = "lead"  # 'lead', 'trail' or 'none'


TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 _.,:()=-", max_size=20)


@st.composite
def nodes(draw: st.DrawFn, depth: int = 0) -> list[Node]:
    count = draw(st.integers(1, 4))
    names = draw(st.lists(WORD, min_size=count, max_size=count, unique=True))
    out: list[Node] = []
    for name in names:
        ok = draw(st.booleans())
        choices: list[str | None] = [None, "SKIP", "TODO", "XFAIL", "XPASS"]
        if not ok:
            choices += ["TIMEOUT", "ERROR"]
        directive = draw(st.sampled_from(choices))
        if directive is not None:
            directive = draw(st.sampled_from([directive, directive.lower(), directive.title()]))
            comment = draw(TEXT).lstrip(" :").rstrip()
        else:
            comment = draw(
                st.sampled_from(["", "exit=1", "exit=139", "rcode=0", " skipped 2 pages"])
            )
        node = Node(
            ok=ok,
            name=draw(st.sampled_from([name, ""])),
            directive=directive,
            comment=comment,
            diags=[f"diag {t}".rstrip() for t in draw(st.lists(TEXT, max_size=2))],
        )
        if depth < 2 and draw(st.integers(0, 2)) == 0:
            node.children = draw(nodes(depth + 1))
            node.children_version = draw(st.booleans())
            node.children_header = draw(st.booleans())
            node.children_plan = draw(st.sampled_from(["lead", "trail", "none"]))
        out.append(node)
    return out


def result_line(number: int, node: Node) -> str:
    parts = ["ok" if node.ok else "not ok", str(number)]
    if node.name:
        parts.append(node.name)
    if node.directive is not None:
        parts += ["#", node.directive]
        if node.comment:
            parts.append(node.comment)
    elif node.comment:
        parts += ["#", node.comment]
    return " ".join(parts)


def render_tree(
    block: list[Node],
    depth: int,
    out: list[tuple[int, str]],
    plan: str,
    version: bool = False,
    header: str = "",
) -> list[TestResult]:
    """Append a block's (depth, line) pairs to ``out``; return the results expected back."""
    if version:
        out.append((depth, "KTAP version 1"))
    if header:
        out.append((depth, f"# Subtest: {header}"))
    if plan == "lead":
        out.append((depth, f"1..{len(block)}"))
    expected: list[TestResult] = []
    for number, node in enumerate(block, start=1):
        subtests: list[TestResult] = []
        if node.children:
            subtests = render_tree(
                node.children,
                depth + 1,
                out,
                node.children_plan,
                node.children_version,
                node.name if node.children_header else "",
            )
        for diag in node.diags:
            out.append((depth, f"# {diag}"))
        line = result_line(number, node)
        out.append((depth, line))
        directive = None if node.directive is None else node.directive.upper()
        expected.append(
            TestResult(
                number=number,
                name=node.name,
                status=DIRECTIVE_STATUS[(node.ok, directive)],
                directive=directive,
                reason=node.comment.strip(),
                diagnostics=list(node.diags),
                subtests=subtests,
                raw=line,
            )
        )
    if plan == "trail":
        out.append((depth, f"1..{len(block)}"))
    return expected


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[TestResult], int]:
    tree = draw(nodes())
    lines: list[tuple[int, str]] = []
    has_version = draw(st.booleans())
    if has_version:
        lines.append(
            (0, draw(st.sampled_from(["KTAP version 1", "TAP version 13", "TAP version 14"])))
        )
    expected = render_tree(tree, 0, lines, draw(st.sampled_from(["lead", "trail", "none"])))
    # One lead-in per nesting level, as KTAP (2 spaces), KUnit (4 spaces or a tab)
    # and runner.sh / run_vmtests.sh ('# ') print them.
    level_prefix = draw(
        st.lists(st.sampled_from(["  ", "    ", "\t", "# "]), min_size=3, max_size=3)
    )
    text_lines = ["".join(level_prefix[:depth]) + line for depth, line in lines]
    top_level = sum(1 for depth, line in lines if depth == 0 and line.startswith(("ok", "not ok")))
    # Unknown lines anywhere but before the version line.
    garbage = draw(
        st.lists(
            st.tuples(
                st.integers(1 if has_version else 0, len(text_lines)),
                st.builds("{}garbage {}".format, st.sampled_from(["", "  ", "\t", "    "]), TEXT),
            ),
            max_size=6,
        )
    )
    for position, junk in sorted(garbage, reverse=True):
        text_lines.insert(position, junk.rstrip())
    if has_version and draw(st.booleans()):
        text_lines = [f"[{7 + i / 64:12.6f}] {line}" for i, line in enumerate(text_lines)]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(text_lines) + newline, expected, top_level


@FUZZ
@given(documents())
def test_fuzz_well_formed_documents_round_trip(
    doc_and_expected: tuple[str, list[TestResult], int],
) -> None:
    text, expected, top_level = doc_and_expected
    doc = parse(text)
    assert len(doc.results) == top_level
    assert doc.results == expected
    assert doc.missing == []
    assert doc.bailed_out is None
    unexpected = ("expected test number", "no parent result line", "planned subtests have no")
    assert not [p for p in doc.problems if any(u in p for u in unexpected)], doc.problems
    check_invariants(doc)
