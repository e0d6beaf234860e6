"""The pytest plugin: each kernel x test program is one pytest test.

The controller (or the only process, without xdist) prepares the plan in
pytest_sessionstart; every process runs its share of tests on VMs it boots itself and
writes one part file per result; the controller turns the parts into the reports.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from . import expect, interrupt
from .boot import QemuGuest
from .cache import atomic_write_text
from .errors import InfraError
from .options import add_options, read_options
from .plan import Plan, PlannedKernel, prepare, worker_id
from .report import RunReport, point_latest, terminal_summary, write_reports
from .run import ProgramResult, classify, merge_retry

PLAN_KEY = pytest.StashKey[Plan]()
LAB_KEY = pytest.StashKey["Lab"]()
REPORT_KEY = pytest.StashKey[RunReport]()
EXIT_OK, EXIT_FAILED, EXIT_INFRA = 0, 1, 2


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):
        plan = Plan.load(Path(config.workerinput["residency_plan"]))  # type: ignore[attr-defined]
    else:
        try:
            plan = prepare(read_options(config), log=lambda m: print(m, file=sys.stderr))
        except InfraError as e:
            # Nothing has started yet: say it in one line and leave, without pytest's
            # own "Exit" banners around it.
            sys.stdout.flush()
            sys.stderr.write(f"residency: infrastructure error: {e.one_line()}\n")
            sys.stderr.flush()
            os._exit(EXIT_INFRA)
    config.stash[PLAN_KEY] = plan
    config.stash[LAB_KEY] = Lab(plan)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    plan = node.config.stash[PLAN_KEY]
    node.workerinput["residency_plan"] = str(Path(plan.run_dir) / "plan.json")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    plan = metafunc.config.stash[PLAN_KEY]
    cases = [(k.name, p) for k in plan.kernels for p in plan.programs]
    metafunc.parametrize("case", cases, ids=[f"{k}:{p}" for k, p in cases])


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


class Lab:
    """The VMs of this process (one at a time) and the part files it writes."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.run_dir = Path(plan.run_dir)
        self.guest: QemuGuest | None = None
        self.guest_kernel = ""
        self.boots = 0
        self.broken: dict[str, InfraError] = {}
        self.expectations = expect.load(Path(plan.expectations)) if plan.expectations else []

    def _kernel(self, name: str) -> PlannedKernel:
        return next(k for k in self.plan.kernels if k.name == name)

    def _ensure_guest(self, name: str) -> QemuGuest:
        if name in self.broken:
            raise self.broken[name]
        if self.guest is not None and (self.guest_kernel != name or not self.guest.alive):
            self.guest.shutdown()
            self.guest = None
        if self.guest is None:
            kernel = self._kernel(name)
            self.boots += 1
            log = self.run_dir / "console" / name / f"{worker_id()}-boot{self.boots}.log"
            guest = QemuGuest(
                self.plan.vm_config(), Path(kernel.image), Path(kernel.initramfs), log
            )
            try:
                info = guest.boot()
                if self.plan.vm["swap_mb"] > 0 and info.swap_kb == 0:
                    guest.kill()
                    raise InfraError(
                        f"the guest of {name} has no swap ({info.swap_error}); see {log}",
                        "the kernel needs CONFIG_SWAP and a virtio disk driver "
                        "(built in, or in --modules)",
                    )
            except InfraError as e:
                self.broken[name] = e
                self._write_part(
                    "infra", f"{name}.json",
                    {"kernel": name, "step": "boot", "cause": e.cause, "fix": e.fix},
                )  # fmt: skip
                raise
            boot = asdict(info) | {"console_log": str(log.relative_to(self.run_dir))}
            self._write_part("boots", f"{name}-{worker_id()}-{self.boots}.json", boot)
            self.guest, self.guest_kernel = guest, name
        return self.guest

    def _write_part(self, kind: str, name: str, data: dict[str, Any]) -> None:
        atomic_write_text(self.run_dir / "parts" / kind / name, json.dumps(data) + "\n")

    def run(self, kernel: str, program: str) -> ProgramResult:
        result = self._attempt(kernel, program)
        if result.failed and self.plan.retry_failed:
            # Once more, in a fresh VM: a pass then is flaky, not clean.
            self.close()
            result = merge_retry(result, self._attempt(kernel, program))
        self._write_part("programs", f"{kernel}--{program}.json", result.to_json())
        return result

    def _attempt(self, kernel: str, program: str) -> ProgramResult:
        guest = self._ensure_guest(kernel)
        execution = guest.run(program, float(self.plan.timeout))
        result = classify(kernel, execution)
        expect.apply(result, self._kernel(kernel).identity["version"], self.expectations)
        return result

    def close(self, interrupted: bool = False) -> None:
        """Shut the VM down; after Ctrl-C or SIGTERM kill it at once (its test is still
        running and would not answer)."""
        if self.guest is not None:
            if interrupted:
                self.guest.kill()
            else:
                self.guest.shutdown()
            self.guest = None


class ProgressWriter:
    """On the controller: after each finished test, rewrite the reports from the parts so
    far, marked incomplete, so a run killed at any moment leaves whole files."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        plan = self.config.stash.get(PLAN_KEY, None)
        if report.when == "teardown" and plan is not None:
            progress = collect_report(plan, pytest.ExitCode.INTERRUPTED)
            write_reports(Path(plan.run_dir), progress)
            point_latest(Path(plan.results_root), Path(plan.run_dir))


def pytest_configure(config: pytest.Config) -> None:
    interrupt.install()
    if not _is_worker(config):
        config.pluginmanager.register(ProgressWriter(config), "residency-progress")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    lab = config.stash.get(LAB_KEY, None)
    if lab is not None:
        lab.close(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
    plan = config.stash.get(PLAN_KEY, None)
    if plan is None or _is_worker(config):
        return
    report = collect_report(plan, int(exitstatus))
    run_dir = Path(plan.run_dir)
    write_reports(run_dir, report)
    point_latest(Path(plan.results_root), run_dir)
    config.stash[REPORT_KEY] = report
    session.exitstatus = report.exit_status


def collect_report(plan: Plan, pytest_status: int) -> RunReport:
    run_dir = Path(plan.run_dir)
    parts = run_dir / "parts"

    def load(kind: str) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((parts / kind).glob("*.json"))]

    programs = [ProgramResult.from_json(d) for d in load("programs")]
    order = {(k.name, p): i for i, (k, p) in enumerate(
        (k, p) for k in plan.kernels for p in plan.programs)}  # fmt: skip
    programs.sort(key=lambda r: order.get((r.kernel, r.program), len(order)))
    boots = load("boots")
    infra = load("infra")
    if pytest_status == pytest.ExitCode.NO_TESTS_COLLECTED:
        infra.append(
            {"kernel": "all", "step": "select", "cause": "no test program was selected",
             "fix": "check -k and --kernel against the programs in plan.json"}
        )  # fmt: skip
    kernels = []
    for k in plan.kernels:
        entry: dict[str, Any] = dict(k.identity)
        mine = [b for b in boots if b.get("uname") and b["console_log"].split("/")[1] == k.name]
        if mine:
            entry.update(
                uname_r=mine[0]["uname"], mem_kb=mine[0]["mem_kb"], swap_kb=mine[0]["swap_kb"],
                boots=len(mine), boot_seconds=[round(b["seconds"], 2) for b in mine],
            )  # fmt: skip
        entry["accel"] = plan.vm["accel"]
        kernels.append(entry)
    interrupted = pytest_status in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
    if infra:
        status = EXIT_INFRA
    elif any(p.failed for p in programs):
        status = EXIT_FAILED
    elif interrupted or pytest_status in (pytest.ExitCode.USAGE_ERROR,
                                          pytest.ExitCode.NO_TESTS_COLLECTED):  # fmt: skip
        status = EXIT_INFRA
    elif pytest_status != pytest.ExitCode.OK:
        status = EXIT_FAILED
    else:
        status = EXIT_OK
    config = dict(plan.vm)
    config.update(
        accel_why=plan.accel_why, qemu=plan.qemu_version, timeout=plan.timeout,
        programs=plan.programs, built=plan.built, expectations=plan.expectations,
    )  # fmt: skip
    return RunReport(
        run_id=plan.run_id,
        started=plan.started,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        complete=not infra and pytest_status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED),
        exit_status=status,
        config=config,
        kernels=kernels,
        programs=programs,
        infrastructure_errors=infra,
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    plan = config.stash.get(PLAN_KEY, None)
    if report is None or plan is None:
        return
    terminalreporter.section("page-residency kselftests")
    for line in terminal_summary(report, Path(plan.run_dir)):
        terminalreporter.write_line(line)
    meaning = {0: "all passed or expected", 1: "test failures", 2: "infrastructure error"}
    if report.exit_status == EXIT_INFRA and not report.infrastructure_errors:
        meaning[EXIT_INFRA] = "the run was interrupted; the reports hold what finished"
    terminalreporter.write_line(f"exit status {report.exit_status}: {meaning[report.exit_status]}")
