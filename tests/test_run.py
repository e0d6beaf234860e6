"""classify(): how a program's TAP and its ending become subtest results."""

from __future__ import annotations

from orchestrator.console import Execution
from orchestrator.run import TAINT_SUBTEST, classify, merge_retry
from orchestrator.status import Status


def run(output: str, outcome: str = "completed", rc: int | None = 0, **kw: int) -> Execution:
    return Execution("prog", outcome, rc, output, 1.0, detail=f"{outcome} detail", **kw)  # type: ignore[arg-type]


def statuses(ex: Execution) -> dict[str, Status]:
    return {s.subtest: s.status for s in classify("k", ex).subtests}


def test_all_pass_adds_nothing() -> None:
    out = "TAP version 13\n1..2\nok 1 a\nok 2 b # SKIP no swap\n# Totals: pass:1 skip:1\n"
    result = classify("k", run(out, taint_before=0, taint_after=0))
    assert [(s.subtest, s.status) for s in result.subtests] == [
        ("a", Status.PASS),
        ("b", Status.SKIP),
    ]
    assert result.subtests[1].reason == "no swap"
    assert not result.failed


def test_missing_results_of_a_finished_program_are_errors() -> None:
    out = "TAP version 13\n1..4\nok 1 a\nnot ok 2 b\n"
    got = statuses(run(out, rc=1))
    assert got == {
        "a": Status.PASS,
        "b": Status.FAIL,
        "test_3": Status.ERROR,
        "test_4": Status.ERROR,
    }


def test_timeout_marks_missing_results_as_timeout() -> None:
    out = "TAP version 13\n1..3\nok 1 a\n"
    got = statuses(run(out, outcome="timeout", rc=None))
    assert got == {"a": Status.PASS, "test_2": Status.TIMEOUT, "test_3": Status.TIMEOUT}


def test_crash_without_plan_is_one_crash_result() -> None:
    got = statuses(run("TAP version 13\nok 1 a\n", outcome="crash", rc=None))
    assert got == {"a": Status.PASS, "prog": Status.CRASH}


def test_skip_all() -> None:
    result = classify("k", run("TAP version 13\n1..0 # SKIP no userfaultfd\n", rc=4))
    assert [(s.subtest, s.status, s.reason) for s in result.subtests] == [
        ("prog", Status.SKIP, "no userfaultfd")
    ]


def test_no_tap_at_all_is_an_error() -> None:
    got = statuses(run("cannot open /proc/self/pagemap\n", rc=1))
    assert got == {"prog": Status.ERROR}


def test_a_program_killed_by_a_signal_crashed() -> None:
    result = classify("k", run("TAP version 13\n1..3\nok 1 a\n", rc=139))
    got = {s.subtest: (s.status, s.reason) for s in result.subtests}
    assert got["a"][0] is Status.PASS
    assert got["test_2"][0] is Status.CRASH and "SIGSEGV" in got["test_2"][1]
    assert got["test_3"][0] is Status.CRASH
    assert statuses(run("Segmentation fault\n", rc=139)) == {"prog": Status.CRASH}


def test_missing_plan_is_an_error() -> None:
    got = statuses(run("TAP version 13\nok 1 a\nok 2 b\n"))
    assert got == {"a": Status.PASS, "b": Status.PASS, "prog": Status.ERROR}


def test_bad_exit_status_without_failures_is_an_error() -> None:
    got = statuses(run("TAP version 13\n1..1\nok 1 a\n", rc=1))
    assert got["prog"] is Status.ERROR


def test_bail_out_is_an_error() -> None:
    out = "TAP version 13\n1..2\nok 1 a\nBail out! cannot open pagemap\n"
    got = statuses(run(out, rc=1))
    assert got["prog_bail_out"] is Status.ERROR
    assert got["test_2"] is Status.ERROR


def test_new_taint_is_reported() -> None:
    result = classify("k", run("TAP version 13\n1..1\nok 1 a\n", taint_before=0, taint_after=512))
    taint = [s for s in result.subtests if s.subtest == TAINT_SUBTEST]
    assert taint and taint[0].status is Status.ERROR
    assert "W warning" in taint[0].reason


def test_diagnostics_are_kept_with_their_result() -> None:
    out = "TAP version 13\n1..1\n# entry=0x8100000000000000 PRESENT|FILE\nnot ok 1 a\n"
    sub = classify("k", run(out, rc=1)).subtests[0]
    assert sub.status is Status.FAIL
    assert any("PRESENT|FILE" in d for d in sub.diagnostics)


def test_a_failures_reason_is_its_message() -> None:
    """kselftest.h prints a pass's or failure's message on the result line after '#  '."""
    out = (
        "TAP version 13\n1..4\n# seek: got 0x1000\nnot ok 1 a #  error: SEEK_DATA returned ENXIO\n"
        "ok 2 b #  took 3 s\nnot ok 3 c\nok 4 d # SKIP no swap\n"
        "# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:1 error:0\n"
    )
    subs = {s.subtest: s for s in classify("k", run(out, rc=1)).subtests}
    assert [(n, s.status, s.reason) for n, s in subs.items()] == [
        ("a", Status.FAIL, "error: SEEK_DATA returned ENXIO"),
        ("b", Status.PASS, "took 3 s"),
        ("c", Status.FAIL, ""),
        ("d", Status.SKIP, "no swap"),
    ]
    assert subs["a"].diagnostics == ["seek: got 0x1000"]


def test_a_result_without_message_keeps_the_status_it_had() -> None:
    """ksft_test_result_code(code, name, "%s", "") prints '#  ' with nothing after it."""
    out = "TAP version 13\n1..2\nok 1 a #  \nnot ok 2 b #  \n"
    subs = classify("k", run(out, rc=1)).subtests
    assert [(s.subtest, s.status, s.reason) for s in subs] == [
        ("a", Status.PASS, ""),
        ("b", Status.FAIL, ""),
    ]


def test_retry_that_passes_is_flaky_not_clean() -> None:
    first = classify("k", run("TAP version 13\n1..2\nok 1 a\nnot ok 2 b\n", rc=1))
    retry = classify("k", run("TAP version 13\n1..2\nok 1 a\nok 2 b\n"))
    merged = merge_retry(first, retry)
    got = {s.subtest: (s.status, s.flaky) for s in merged.subtests}
    assert got == {"a": (Status.PASS, False), "b": (Status.PASS, True)}
    assert "first attempt fail" in merged.subtests[1].reason


def test_retry_that_fails_again_keeps_the_failure() -> None:
    first = classify("k", run("TAP version 13\n1..1\nnot ok 1 b\n", rc=1))
    retry = classify("k", run("TAP version 13\n1..1\nnot ok 1 b\n", rc=1))
    merged = merge_retry(first, retry)
    assert merged.subtests[0].status is Status.FAIL
    assert "failed again" in merged.subtests[0].reason
