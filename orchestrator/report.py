"""Step 7: write what a person and Jenkins read: junit.xml, summary.json, a terminal summary."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import html_report
from .baseline import GATING, REGRESSION, Comparison
from .cache import atomic_write_text
from .errors import InfraRecord
from .kernel import KernelIdentity
from .plan import Built
from .qemu import VmConfig
from .run import ProgramResult, SubtestResult
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
    subtests: list[str] = field(default_factory=list)  # --subtest: only these decide
    bisect: bool = False
    workers: int = 1
    parallel_why: str = ""
    program_memory: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self.vm)
        data.update(
            accel_why=self.accel_why, qemu=self.qemu_version, timeout=self.timeout,
            programs=list(self.programs), built=asdict(self.built),
            expectations=self.expectations, subtests=list(self.subtests), bisect=self.bisect,
            workers=self.workers, parallel_why=self.parallel_why,
            program_memory_mb=dict(self.program_memory),
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
    booted_ahead: int = 0  # of those boots, how many started with the process (ahead.py)


@dataclass(frozen=True)
class KernelEntry:
    """One kernel of the report: who it is and, once booted, what its guests saw."""

    identity: KernelIdentity
    accel: str
    guest: GuestFacts | None = None
    console: tuple[str, ...] = ()  # every console log of its guests, run-relative
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
        data["console"] = list(self.console)
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
    baseline: Comparison | None = None
    # For a merge of runs (orchestrator.merge): each run's id, path, kernels and verdict.
    merged_from: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counter = Counter(s.status.value for p in self.programs for s in p.subtests)
        counts = {status.value: counter.get(status.value, 0) for status in Status}
        counts["flaky"] = sum(s.flaky for p in self.programs for s in p.subtests)
        return counts

    def to_json(self) -> dict[str, Any]:
        # Each result's diagnostics once, in the top-level list (the HTML report shows them).
        results = [s.to_json() for p in self.programs for s in p.subtests]
        for r in results:
            r.pop("tap", None)
            if self.baseline is not None:
                r["baseline"] = self.baseline.of(r["kernel"], r["program"], r["subtest"])
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
                    "results": [
                        {k: v for k, v in r.items() if k not in ("kernel", "diagnostics")}
                        for r in mine
                    ],
                }
            )
        extra = {} if self.baseline is None else {"baseline": self.baseline.to_json()}
        merged = {"merged_from": self.merged_from} if self.merged_from else {}
        return {
            "schema": SUMMARY_SCHEMA,
            "run_id": self.run_id,
            "started": self.started,
            "finished": self.finished,
            "complete": self.complete,
            "exit_status": self.exit_status,
            "config": self.config.to_json(),
            **merged,
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
                    "console": p.console,
                    "detail": p.detail,
                    "problems": p.problems,
                }
                for p in self.programs
            ],
            "results": results,
        } | extra


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


def _count(suite: ET.Element) -> dict[str, int]:
    """A testsuite's counters, as JUnit reads them from its testcases."""
    cases = suite.findall("testcase")
    return {
        "tests": len(cases),
        "failures": sum(c.find("failure") is not None for c in cases),
        "errors": sum(c.find("error") is not None for c in cases),
        "skipped": sum(c.find("skipped") is not None for c in cases),
    }


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """@text with each character XML 1.0 forbids written as a visible \\xNN / \\uNNNN."""
    return _NOT_XML.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def _seconds(value: float) -> str:
    """A time as Jenkins' junit-10 schema wants it: at most three decimals."""
    return f"{max(0.0, value):.3f}"


def _outcome(case: ET.Element, s: SubtestResult, regression_since: str | None) -> None:
    """The testcase's result element, if it is not a plain pass.  A regression against the
    baseline is always a failure whose message says so (a skip too: the feature was there)."""
    details = "\n".join(s.diagnostics)
    message = s.reason or s.status.value
    if regression_since is not None:
        what = f"{s.status.value}: {message}" if message != s.status.value else message
        element = ET.SubElement(
            case, "failure",
            {"message": f"regression since {regression_since}: {what}", "type": "regression"},
        )  # fmt: skip
        element.text = details or None
        return
    tag, kind = {
        Status.FAIL: ("failure", "fail"),
        Status.XPASS: ("failure", "xpass"),
        Status.CRASH: ("error", "crash"),
        Status.TIMEOUT: ("error", "timeout"),
        Status.ERROR: ("error", "error"),
        Status.SKIP: ("skipped", ""),
        Status.XFAIL: ("skipped", ""),
    }.get(s.status, ("", ""))
    if not tag:
        return
    if s.status is Status.XPASS:
        message = f"expected to fail but passed: {message}"
    elif s.status is Status.XFAIL:
        message = f"expected failure: {message}"
    element = ET.SubElement(case, tag, {"message": message})
    if kind:
        element.set("type", kind)
    if details and s.status is not Status.SKIP:
        element.text = details


def _testcase(
    suite: ET.Element, p: ProgramResult, s: SubtestResult, comparison: Comparison | None
) -> None:
    case = ET.SubElement(
        suite, "testcase",
        {"name": s.subtest, "classname": f"{p.kernel}.{p.program}", "time": _seconds(s.seconds)},
    )  # fmt: skip
    klass = comparison.of(p.kernel, p.program, s.subtest) if comparison else None
    since = comparison.baseline.run if comparison and klass == REGRESSION else None
    _outcome(case, s, since)
    out = s.tap
    if comparison is not None:
        out = f"baseline {comparison.baseline.run}: {klass}\n{out}"
    if s.flaky:
        # Jenkins' UI does not show <flakyFailure>: the case's own output says it first.
        out = f"FLAKY: {s.reason}\n{out}"
        flaky = ET.SubElement(case, "flakyFailure", {"type": "flaky", "message": s.reason})
        if s.diagnostics:
            ET.SubElement(flaky, "system-out").text = "\n".join(s.diagnostics)
    if out:
        ET.SubElement(case, "system-out").text = out


def _properties(suite: ET.Element, props: dict[str, str]) -> None:
    element = ET.SubElement(suite, "properties")
    for name, value in props.items():
        ET.SubElement(element, "property", {"name": name, "value": value})


def _program_suite(root: ET.Element, report: RunReport, p: ProgramResult) -> dict[str, int]:
    """The testsuite of one kernel x program; returns its counters."""
    kernels = {k.name: k for k in report.kernels}
    suite = ET.SubElement(
        root, "testsuite", {"name": p.program, "package": p.kernel, "time": _seconds(p.seconds)}
    )
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
    # A testcase may not carry properties in junit-10: per-case facts are suite
    # properties named `<fact>:<subtest>` (and a line in the case's own output).
    comparison = report.baseline
    for s in p.subtests:
        if s.flaky:
            props[f"flaky:{s.subtest}"] = s.reason
        if comparison is not None:
            props[f"baseline:{s.subtest}"] = str(comparison.of(p.kernel, p.program, s.subtest))
    gone = (
        [g for g in comparison.gone if (g.kernel, g.program) == (p.kernel, p.program)]
        if comparison
        else []
    )
    for g in gone:
        props[f"baseline:{g.subtest}"] = "gone"
    _properties(suite, props)
    for s in p.subtests:
        _testcase(suite, p, s, comparison)
    for g in gone:
        # A subtest of the base that did not report now still shows, failed.
        case = ET.SubElement(
            suite, "testcase",
            {"name": g.subtest, "classname": f"{p.kernel}.{p.program}", "time": _seconds(0)},
        )  # fmt: skip
        assert comparison is not None
        ET.SubElement(case, "failure", {
            "type": "gone",
            "message": f"gone since {comparison.baseline.run}: {g.base_status} there, "
            "no result now",
        })  # fmt: skip
    if p.tap:
        ET.SubElement(suite, "system-out").text = p.tap
    counts = _count(suite)
    for name in ("tests", "failures", "errors", "skipped"):
        suite.set(name, str(counts[name]))
    return counts


def junit_xml(report: RunReport) -> str:
    """One testsuite per kernel x program (name: the program, package: the kernel, so
    Jenkins shows `kernel.program`), one testcase per subtest with its own time and TAP
    lines; the program's whole TAP once, as the suite's system-out."""
    root = ET.Element("testsuites", {"name": f"residency-kselftest {report.run_id}"})
    totals = Counter[str]()
    for p in report.programs:
        totals.update(_program_suite(root, report, p))
    for err in report.infrastructure_errors:
        suite = ET.SubElement(
            root, "testsuite",
            {"name": "infrastructure", "package": err.kernel, "tests": "1", "failures": "0",
             "errors": "1", "skipped": "0", "time": _seconds(0)},
        )  # fmt: skip
        case = ET.SubElement(
            suite, "testcase",
            {"name": err.step, "classname": f"{err.kernel}.infrastructure", "time": _seconds(0)},
        )  # fmt: skip
        error = ET.SubElement(case, "error", {"type": "infrastructure", "message": err.cause})
        error.text = f"fix: {err.fix}"
        totals.update(tests=1, errors=1)
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _seconds(sum(p.seconds for p in report.programs)))
    for element in root.iter():
        # What a program prints may hold characters XML 1.0 cannot carry: show them escaped.
        if element.text:
            element.text = xml_safe(element.text)
        for name, value in element.attrib.items():
            element.set(name, xml_safe(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_reports(run_dir: Path, report: RunReport) -> None:
    """Write per-program TAP, summary.json, junit.xml and report.html, each atomically."""
    for p in report.programs:
        atomic_write_text(run_dir / "tap" / p.kernel / f"{p.program}.tap", p.tap)
    data = report.to_json()
    atomic_write_text(run_dir / "summary.json", json.dumps(data, indent=2) + "\n")
    atomic_write_text(run_dir / "junit.xml", junit_xml(report))
    atomic_write_text(run_dir / "report.html", html_report.render(data))


def point_latest(results_root: Path, run_dir: Path) -> None:
    link = results_root / "latest"
    tmp = results_root / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, link)


def baseline_summary(comparison: Comparison, programs: list[ProgramResult]) -> list[str]:
    """The comparison with the baseline: counts, then every subtest that fails the gate."""
    base = comparison.baseline
    counts = ", ".join(f"{n} {c}" for c, n in comparison.counts().items() if n) or "nothing"
    matched = "; ".join(f"{k} against {b}" for k, b in comparison.matched.items() if k != b)
    lines = [f"baseline {base.run} ({base.path}): {counts}" + (f" [{matched}]" if matched else "")]
    for p in programs:
        for s in p.subtests:
            klass = comparison.of(p.kernel, p.program, s.subtest)
            if klass in GATING:
                lines.append(f"  {klass.upper()}: {p.kernel} {p.program}: {s.subtest}: "
                             f"{s.status.value} {s.reason}".rstrip())  # fmt: skip
    for g in comparison.gone:
        lines.append(f"  GONE: {g.kernel} {g.program}: {g.subtest}: {g.base_status} there")
    return lines


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
    if report.config.subtests:
        lines.append("the verdict is decided by " + ", ".join(report.config.subtests) + " only")
    if report.baseline is not None:
        lines += baseline_summary(report.baseline, report.programs)
    total = report.counts()
    counted = ", ".join(f"{n} {st}" for st, n in total.items() if n) or "no results"
    lines.append(f"total: {counted}; results in {run_dir}")
    return lines
