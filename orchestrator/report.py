"""Step 7: write what a person and Jenkins read: junit.xml, summary.json, a terminal summary."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from junit_xml import TestCase, TestSuite, to_xml_report_string

from .cache import atomic_write_text
from .errors import InfraRecord
from .kernel import KernelIdentity
from .plan import Built
from .qemu import VmConfig
from .run import ProgramResult
from .status import Status

SUMMARY_SCHEMA = 1


@dataclass(frozen=True)
class RunConfig:
    """How the run was set up (summary.json's "config")."""

    vm: VmConfig
    accel_why: str
    qemu_version: str
    timeout: int
    programs: list[str]
    built: Built
    expectations: str | None
    workers: int = 1
    parallel_why: str = ""
    program_memory: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self.vm)
        data.update(
            accel_why=self.accel_why, qemu=self.qemu_version, timeout=self.timeout,
            programs=list(self.programs), built=asdict(self.built),
            expectations=self.expectations, workers=self.workers,
            parallel_why=self.parallel_why, program_memory_mb=dict(self.program_memory),
        )  # fmt: skip
        return data


@dataclass(frozen=True)
class GuestFacts:
    """What the guests of one kernel saw, from their boots."""

    uname_r: str
    mem_kb: int
    swap_kb: int
    boots: int
    boot_seconds: list[float]


@dataclass(frozen=True)
class KernelEntry:
    """One kernel of the report: who it is and, once booted, what its guests saw."""

    identity: KernelIdentity
    accel: str
    guest: GuestFacts | None = None
    machine: str = "pc"  # the QEMU machine its guests booted on (the last one's), and why
    machine_why: str = ""

    @property
    def name(self) -> str:
        return self.identity.name

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.identity.to_json())
        if self.guest is not None:
            data.update(asdict(self.guest))
        data["accel"] = self.accel
        data["machine"] = self.machine
        data["machine_why"] = self.machine_why
        return data


@dataclass
class RunReport:
    """Everything one run learned, in the shape summary.json stores it."""

    run_id: str
    started: str
    finished: str
    complete: bool
    exit_status: int
    config: RunConfig
    kernels: list[KernelEntry]
    programs: list[ProgramResult]
    infrastructure_errors: list[InfraRecord] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counter = Counter(s.status.value for p in self.programs for s in p.subtests)
        counts = {status.value: counter.get(status.value, 0) for status in Status}
        counts["flaky"] = sum(s.flaky for p in self.programs for s in p.subtests)
        return counts

    def to_json(self) -> dict[str, Any]:
        results = [s.to_json() for p in self.programs for s in p.subtests]
        for r in results:
            r.pop("diagnostics", None)
        kernels = []
        for kernel in self.kernels:
            mine = [r for r in results if r["kernel"] == kernel.name]
            counts = Counter(r["status"] for r in mine)
            skips = skips_by_reason([p for p in self.programs if p.kernel == kernel.name])
            kernels.append(
                kernel.to_json()
                | {
                    "counts": {st.value: counts.get(st.value, 0) for st in Status},
                    "skips": [
                        {"reason": reason, "count": len(names), "subtests": names}
                        for reason, names in skips
                    ],
                    "results": [{k: v for k, v in r.items() if k != "kernel"} for r in mine],
                }
            )
        return {
            "schema": SUMMARY_SCHEMA,
            "run_id": self.run_id,
            "started": self.started,
            "finished": self.finished,
            "complete": self.complete,
            "exit_status": self.exit_status,
            "config": self.config.to_json(),
            "kernels": kernels,
            "counts": self.counts(),
            "infrastructure_errors": [asdict(e) for e in self.infrastructure_errors],
            "programs": [
                {
                    "kernel": p.kernel,
                    "program": p.program,
                    "outcome": p.outcome,
                    "exit_code": p.exit_code,
                    "seconds": p.seconds,
                    "tap": f"tap/{p.kernel}/{p.program}.tap",
                    "detail": p.detail,
                    "problems": p.problems,
                }
                for p in self.programs
            ],
            "results": results,
        }


def skips_by_reason(programs: list[ProgramResult]) -> list[tuple[str, list[str]]]:
    """What was not tested and why: each skip reason with the program:subtest names it
    covers, the most frequent first."""
    by_reason: dict[str, list[str]] = {}
    for p in programs:
        for s in p.subtests:
            if s.status is Status.SKIP:
                by_reason.setdefault(s.reason or "(no reason given)", []).append(
                    f"{p.program}:{s.subtest}"
                )
    return sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0]))


def _testcase(p: ProgramResult, index: int) -> TestCase:
    s = p.subtests[index]
    case = TestCase(name=s.subtest, classname=f"{p.kernel}.{p.program}", stdout=p.tap)
    details = "\n".join(s.diagnostics)
    message = s.reason or s.status.value
    if s.status is Status.FAIL:
        case.add_failure_info(message=message, output=details, failure_type="fail")
    elif s.status is Status.XPASS:
        case.add_failure_info(
            message=f"expected to fail but passed: {message}", output=details, failure_type="xpass"
        )
    elif s.status in (Status.CRASH, Status.TIMEOUT, Status.ERROR):
        case.add_error_info(message=message, output=details, error_type=s.status.value)
    elif s.status is Status.SKIP:
        case.add_skipped_info(message=message)
    elif s.status is Status.XFAIL:
        case.add_skipped_info(message=f"expected failure: {message}", output=details)
    return case


def junit_xml(report: RunReport) -> str:
    """One testsuite per kernel x program, one testcase per subtest."""
    kernels = {k.name: k for k in report.kernels}
    suites = []
    for p in report.programs:
        props = {"program": p.program, "outcome": p.outcome, "exit_code": str(p.exit_code)}
        kernel = kernels.get(p.kernel)
        if kernel is not None:
            if kernel.guest is not None:
                props["uname_r"] = kernel.guest.uname_r
                props["swap_kb"] = str(kernel.guest.swap_kb)
                props["mem_kb"] = str(kernel.guest.mem_kb)
            props["accel"] = kernel.accel
        skips = skips_by_reason([p])
        if skips:
            props["skips"] = "; ".join(f"{len(names)} x {reason}" for reason, names in skips)
        cases = [_testcase(p, i) for i in range(len(p.subtests))]
        suites.append(
            TestSuite(f"{p.kernel}.{p.program}", cases, package=p.kernel, properties=props)
        )
    for err in report.infrastructure_errors:
        case = TestCase(name=err.step, classname=f"{err.kernel}.infra")
        case.add_error_info(message=err.cause, output=err.fix, error_type="infrastructure")
        suites.append(TestSuite(f"{err.kernel}.infrastructure", [case], package=err.kernel))
    text = to_xml_report_string(suites, prettyprint=False, encoding="utf-8")
    root = ET.fromstring(text)
    root.set("name", f"residency-kselftest {report.run_id}")
    flaky = {
        (f"{p.kernel}.{p.program}", s.subtest): s
        for p in report.programs
        for s in p.subtests
        if s.flaky
    }
    for case in root.iter("testcase"):
        sub = flaky.get((case.get("classname", ""), case.get("name", "")))
        if sub is not None:
            # The Jenkins JUnit plugin shows a flakyFailure as a pass that failed before.
            element = ET.Element("flakyFailure", {"type": "flaky", "message": sub.reason})
            element.text = "\n".join(sub.diagnostics)
            case.insert(0, element)
    # Subtests have no time of their own; a program's suite carries how long it ran.
    seconds = {f"{p.kernel}.{p.program}": p.seconds for p in report.programs}
    for suite in root.iter("testsuite"):
        suite.set("time", str(seconds.get(suite.get("name", ""), 0.0)))
    root.set("time", str(sum(seconds.values())))
    for element in root.iter():
        # Jenkins' junit-10 schema allows at most three decimals in a time.
        if "time" in element.attrib:
            element.set("time", f"{float(element.get('time') or 0):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_reports(run_dir: Path, report: RunReport) -> None:
    """Write per-program TAP, summary.json and junit.xml, each atomically."""
    for p in report.programs:
        atomic_write_text(run_dir / "tap" / p.kernel / f"{p.program}.tap", p.tap)
    summary = json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"
    atomic_write_text(run_dir / "summary.json", summary)
    atomic_write_text(run_dir / "junit.xml", junit_xml(report))


def point_latest(results_root: Path, run_dir: Path) -> None:
    link = results_root / "latest"
    tmp = results_root / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, link)


def terminal_summary(report: RunReport, run_dir: Path) -> list[str]:
    lines = []
    by_kernel: dict[str, list[ProgramResult]] = {}
    for p in report.programs:
        by_kernel.setdefault(p.kernel, []).append(p)
    for kernel in report.kernels:
        name = kernel.name
        counts = Counter(s.status.value for p in by_kernel.get(name, []) for s in p.subtests)
        shown = ", ".join(f"{n} {st}" for st, n in sorted(counts.items())) or "no results"
        guest = "not booted"
        uname_r = "?"
        if kernel.guest is not None:
            mib = [round(kb / 1024) for kb in (kernel.guest.mem_kb, kernel.guest.swap_kb)]
            guest = f"RAM {mib[0]} MiB, swap {mib[1]} MiB, {kernel.accel}, {kernel.machine}"
            uname_r = kernel.guest.uname_r
        lines.append(f"{name} [{uname_r}; {guest}]: {shown}")
        for reason, names in skips_by_reason(by_kernel.get(name, [])):
            lines.append(f"  skipped {len(names)} x: {reason}")
        for p in by_kernel.get(name, []):
            for s in p.subtests:
                if s.status.is_bad or s.flaky:
                    label = "FLAKY" if s.flaky and not s.status.is_bad else s.status.value.upper()
                    lines.append(f"  {label:7} {p.program}: {s.subtest}: {s.reason}")
    for err in report.infrastructure_errors:
        lines.append(f"infrastructure error: {err.kernel}: {err.cause} -- fix: {err.fix}")
    total = report.counts()
    counted = ", ".join(f"{n} {st}" for st, n in total.items() if n) or "no results"
    lines.append(f"total: {counted}; results in {run_dir}")
    return lines
