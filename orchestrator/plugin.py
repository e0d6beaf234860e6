"""The pytest plugin: each kernel x test program is one pytest test.

The controller (or the only process, without xdist) prepares the plan in
pytest_sessionstart; every process runs its share of tests on VMs its Lab boots and
writes one part file per result; the controller assembles the parts into the reports.
Only pytest hooks live here.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from . import ahead, interrupt, verdict
from .assemble import assemble
from .board import Board
from .errors import InfraError, InfraRecord
from .lab import Lab
from .options import add_old_spellings, add_options, read_options
from .plan import Plan, prepare
from .progress import Progress
from .report import RunReport, point_latest, terminal_summary, write_reports

GROUPED_KEY = pytest.StashKey[bool]()
PLAN_KEY = pytest.StashKey[Plan]()
LAB_KEY = pytest.StashKey[Lab]()
REPORT_KEY = pytest.StashKey[RunReport]()
PROGRESS_KEY = pytest.StashKey[Progress]()
BOARD_KEY = pytest.StashKey[Board]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser) -> None:
    """Every plugin installed is loaded by now, its options added; the command line is not
    parsed yet."""
    add_old_spellings(parser, early_config.pluginmanager)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _infra_exit(message: str, status: int = verdict.EXIT_INFRA) -> NoReturn:
    """Nothing has started yet: say it in one line and leave, without pytest's own banners."""
    sys.stdout.flush()
    sys.stderr.write(f"residency: {message}\n")
    sys.stderr.flush()
    os._exit(status)


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    """On the controller, before pytest-xdist reads -n (a wrapper runs before every plain
    implementation, xdist's tryfirst one too): prepare the plan, which also decides how many
    VMs run at once (orchestrator.parallel), and set -n to that when not given."""
    if not (_is_worker(config) or config.option.help or config.option.version):
        progress = Progress.for_terminal()
        config.stash[PROGRESS_KEY] = progress
        try:
            plan = prepare(read_options(config), log=progress.say, progress=progress)
        except InfraError as e:
            progress.close()
            status = verdict.EXIT_INFRA
            if config.option.residency_bisect:
                record = [InfraRecord.of("all", "prepare", e)]
                status = verdict.bisect_status(status, record)
            _infra_exit(f"infrastructure error: {e.one_line()}", status)
        except KeyboardInterrupt:
            progress.close()
            _infra_exit("interrupted while preparing the run")
        config.stash[PLAN_KEY] = plan
        if config.pluginmanager.hasplugin("xdist") and config.option.numprocesses is None:
            config.option.numprocesses = plan.workers if plan.workers > 1 else None
        if getattr(config.option, "numprocesses", None):
            ahead.discard()  # the workers boot their own guests
            if plan.grouped and getattr(config.option, "dist", None) == "no":
                config.stash[GROUPED_KEY] = True  # whole guests: pytest_xdist_make_scheduler
                config.option.loadscopereorder = False  # in the plan's order
            if getattr(config.option, "maxschedchunk", 0) is None:
                config.option.maxschedchunk = 1  # the order of plan.cases(), one test ahead
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):
        plan = Plan.load(Path(config.workerinput["residency_plan"]))  # type: ignore[attr-defined]
        config.stash[PLAN_KEY] = plan
    plan = config.stash[PLAN_KEY]
    config.stash[LAB_KEY] = Lab(plan)
    if not _is_worker(config):
        board = Board(
            config.stash[PROGRESS_KEY], Path(plan.run_dir), config.option.residency_console
        )
        board.start()
        config.stash[BOARD_KEY] = board


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A guard: every test left after -k runs a program its kernel's guest image holds
    (the plan put in it what the same -k selects, before collection)."""
    plan = config.stash.get(PLAN_KEY, None)
    if plan is None:
        return
    for item in items:
        case = getattr(item, "callspec", None)
        kernel, program = case.params["case"] if case is not None else ("", "")
        if kernel and not plan.kernel(kernel).has_program(program):
            raise pytest.UsageError(
                f"-k selects {kernel}:{program}, but the plan left {program} out of the "
                f"guest image of {kernel}: a bug of the orchestrator's -k matching; "
                "run without -k, or with --subtest, and report it"
            )


def pytest_collection_finish(session: pytest.Session) -> None:
    board = session.config.stash.get(BOARD_KEY, None)
    if board is not None:
        board.total = len(session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    board = node.config.stash.get(BOARD_KEY, None)
    if board is not None:
        board.total = len(ids)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    plan = node.config.stash[PLAN_KEY]
    node.workerinput["residency_plan"] = str(Path(plan.run_dir) / "plan.json")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    plan = metafunc.config.stash[PLAN_KEY]
    cases = plan.cases()
    metafunc.parametrize("case", cases, ids=[f"{k}:{p}" for k, p in cases])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """In a matrix, a worker takes a whole guest's tests at a time, in the plan's order:
    each guest is booted once (plan.group).  xdist's own --dist loadgroup would do it with
    marks, but it renames the tests by assigning Item._nodeid, which pytest 9 no longer
    reads; this scheduler groups them by their names instead."""
    if not config.stash.get(GROUPED_KEY, False):
        return None
    from xdist.scheduler import LoadScopeScheduling

    plan = config.stash[PLAN_KEY]

    class GuestScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return guest_of(plan, nodeid)

    return GuestScheduling(config, log)


def guest_of(plan: Plan, nodeid: str) -> str:
    """The guest (plan.group) of the test named @nodeid (...::test_program[KERNEL:PROGRAM])."""
    kernel, _, program = nodeid.rpartition("[")[2].rstrip("]").partition(":")
    return plan.group(kernel, program) if program else nodeid


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Lab:
    return request.config.stash[LAB_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, InfraError):
        report.longrepr = f"infrastructure error: {call.excinfo.value.one_line()}"
    return report


class ProgressWriter:
    """On the controller: after a finished test, rewrite the reports from the parts so far,
    marked incomplete, so a run killed at any moment, even by SIGKILL, leaves whole files
    (a signal it can handle gets complete ones: pytest_sessionfinish).  At most every
    INTERVAL seconds, not after each test: a rewrite reads all the parts and writes all the
    reports (135 ms with the 1788 results of four kernels), and after each of the 72 tests
    of a four-kernel matrix the rewrites took the controller 8 s of CPU, beside two QEMUs
    on two cores."""

    INTERVAL = 5.0

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.written = -self.INTERVAL  # the first finished test is written at once

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        plan = self.config.stash.get(PLAN_KEY, None)
        now = time.monotonic()
        if report.when == "teardown" and plan is not None and now - self.written >= self.INTERVAL:
            progress = assemble(plan, pytest.ExitCode.INTERRUPTED)
            write_reports(Path(plan.run_dir), progress)
            point_latest(Path(plan.results_root), Path(plan.run_dir))
            self.written = time.monotonic()


class QuietItems:
    """On the controller: pytest's per-test letters and words would land in the middle of
    the live lines; the board prints a line per finished program instead.  The result
    categories (the counts of pytest's summary) stay as they are."""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> Generator[None, tuple[str, Any, Any], tuple[str, Any, Any]]:
        category, _letter, _word = yield
        return category, "", ""


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    interrupt.install()
    if not _is_worker(config):
        config.pluginmanager.register(ProgressWriter(config), "residency-progress")
        if PROGRESS_KEY not in config.stash:  # --help, --version: no plan was prepared
            config.stash[PROGRESS_KEY] = Progress.for_terminal()
        config.pluginmanager.register(QuietItems(), "residency-quiet-items")
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.showfspath = False  # as xdist does: no "suite.py" line to append to


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    lab = config.stash.get(LAB_KEY, None)
    if lab is not None:
        lab.close()
    # What the run allocated lives until the process exits.  pytest's unconfigure and then
    # the interpreter's exit would each walk all of it in full garbage collections (70 ms
    # in all, after the reports are written, when one program took 2 s); frozen, they skip it.
    gc.freeze()
    board = config.stash.get(BOARD_KEY, None)
    if board is not None:
        board.stop()  # before pytest's summary: the live lines leave the screen
    plan = config.stash.get(PLAN_KEY, None)
    if plan is None or _is_worker(config):
        return
    report = assemble(plan, int(exitstatus))
    run_dir = Path(plan.run_dir)
    write_reports(run_dir, report)
    point_latest(Path(plan.results_root), run_dir)
    config.stash[REPORT_KEY] = report
    session.exitstatus = report.exit_status


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    plan = config.stash.get(PLAN_KEY, None)
    if report is None or plan is None:
        return
    terminalreporter.section("page-residency kselftests")
    for line in terminal_summary(report, Path(plan.run_dir)):
        terminalreporter.write_line(line)
    meaning = verdict.meaning(report.exit_status, bool(report.infrastructure_errors))
    terminalreporter.write_line(f"exit status {report.exit_status}: {meaning}")
