"""`python -m orchestrator.merge --results OUT RUN_DIR...`: runs made apart (one kernel each,
on different Jenkins agents) become one run directory, as if one run had tested them all.

Each RUN_DIR is a run directory (`results/<run-id>`, with its plan.json and part files) or a
`--results` directory whose `latest` points at one (or that holds exactly one run). The part
files are read back as the run itself reads them (`assemble.collect`), so summary.json,
junit.xml and report.html come from report.py's own writers; the TAP files are rewritten from
the results and the console logs are copied, so every link of the report works. The exit
status is the gate's verdict, by the same rule as one run's (`assemble.judge`, with
`--baseline` as in a run); 2, with one line naming the problem and the fix, when an input is
not a run, two inputs tested a kernel of the same name, or the baseline cannot be read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from . import verdict
from .assemble import collect, judge, run_config
from .errors import InfraError, InfraRecord
from .plan import Plan, make_run_dir
from .report import SUMMARY_SCHEMA, RunReport, point_latest, terminal_summary, write_reports


@dataclass(frozen=True)
class SourceRun:
    """One run to merge: where it is, its plan and what its summary.json says."""

    given: str  # the path as given on the command line
    path: Path  # the run directory itself
    plan: Plan
    summary: dict[str, Any]


NOT_A_RUN_FIX = (
    "give a run directory (results/<run-id>, with summary.json and plan.json) or the "
    "--results directory of a run"
)


def find_run_dir(path: Path) -> Path:
    """The run directory `path` names: itself, its `latest`, or its only run."""
    if not path.is_dir():
        raise InfraError(f"{path} is not a directory", NOT_A_RUN_FIX)
    if (path / "summary.json").is_file():
        return path.resolve()
    if (path / "latest" / "summary.json").is_file():
        return (path / "latest").resolve()
    runs = sorted(p for p in path.iterdir() if (p / "summary.json").is_file())
    if len(runs) == 1:
        return runs[0]
    if runs:
        raise InfraError(
            f"{path} holds {len(runs)} runs ({', '.join(r.name for r in runs)}) and no latest link",
            "give the run directory to merge (results/<run-id>)",
        )
    raise InfraError(
        f"{path} is not a results directory: no summary.json in it, in a latest run or "
        "in a run directory under it",
        NOT_A_RUN_FIX,
    )


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InfraError(
            f"{path.parent} has no {path.name}, so it is no run of this tool "
            "(or a merged one, which cannot be merged again)",
            NOT_A_RUN_FIX,
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InfraError(
            f"{path} cannot be read as JSON ({e})",
            f"give a run whose {what} is whole (the run may still be going on, or its copy "
            "was cut short)",
        ) from None
    if not isinstance(data, dict):
        raise InfraError(f"{path} is not a {what} (not a JSON object)", NOT_A_RUN_FIX)
    return data


def load_run(given: str) -> SourceRun:
    path = find_run_dir(Path(given))
    summary = _read_json(path / "summary.json", "summary.json")
    if summary.get("schema") != SUMMARY_SCHEMA:
        raise InfraError(
            f"{path / 'summary.json'} has schema {summary.get('schema')!r}, this merge "
            f"reads schema {SUMMARY_SCHEMA}",
            "merge runs made by the same version of the orchestrator as the merge",
        )
    if "merged_from" in summary:
        raise InfraError(
            f"{path} is itself a merge of runs, which cannot be merged again",
            "merge the original run directories together",
        )
    try:
        plan = Plan.from_json(_read_json(path / "plan.json", "plan.json"))
    except (KeyError, TypeError, ValueError) as e:
        raise InfraError(
            f"{path / 'plan.json'} is not a plan of this orchestrator ({e!r})",
            "merge runs made by the same version of the orchestrator as the merge",
        ) from None
    return SourceRun(given, path, plan, summary)


def check_kernels(sources: Sequence[SourceRun]) -> None:
    """Each kernel name (its label in every report) in one run only."""
    seen: dict[str, SourceRun] = {}
    for source in sources:
        for kernel in source.plan.kernels:
            other = seen.get(kernel.name)
            if other is not None:
                where = (
                    f"both in {source.path}"
                    if other.path == source.path
                    else f"in {other.path} and in {source.path}"
                )
                raise InfraError(
                    f"two runs tested a kernel named {kernel.name} ({where})",
                    "merge each kernel's run once; give the runs' kernels different labels "
                    "if they really are different kernels",
                )
            seen[kernel.name] = source


def merge_runs(sources: Sequence[SourceRun], run_id: str, base: str | None = None) -> RunReport:
    """One report over all the sources' kernels, programs and infrastructure errors, judged
    as one run over them (against the baseline `base`, a summary.json or its run, if any)."""
    kernels = []
    programs = []
    infra: list[InfraRecord] = []
    for source in sources:
        try:
            its_kernels, its_programs = collect(source.plan, source.path)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InfraError(
                f"the part files of {source.path} cannot be read ({e!r})",
                "give a whole run directory (parts/ included, as the run left it)",
            ) from None
        kernels.extend(its_kernels)
        programs.extend(its_programs)
        # The run's own list: it also holds what no part file has (nothing selected).
        infra.extend(InfraRecord(**e) for e in source.summary.get("infrastructure_errors", []))
    ran_through = all(s.summary.get("complete") is True for s in sources)
    pytest_status = pytest.ExitCode.OK if ran_through else pytest.ExitCode.INTERRUPTED
    subtests = list(dict.fromkeys(x for s in sources for x in s.plan.subtests))
    names = [k.name for k in kernels]
    status, comparison = judge(names, programs, infra, pytest_status, base, subtests, False)
    # The first run's settings; each run's own are kept under merged_from.
    programs_run = list(dict.fromkeys(p for s in sources for p in s.plan.programs))
    config = replace(run_config(sources[0].plan), programs=programs_run)
    return RunReport(
        run_id=run_id,
        started=min(str(s.summary.get("started", s.plan.started)) for s in sources),
        finished=max(str(s.summary.get("finished", "")) for s in sources),
        complete=ran_through and not infra,
        exit_status=status,
        baseline=comparison,
        config=config,
        kernels=kernels,
        programs=programs,
        infrastructure_errors=infra,
        merged_from=[
            {
                "run_id": s.plan.run_id,
                "path": s.given,
                "kernels": [k.name for k in s.plan.kernels],
                "complete": s.summary.get("complete"),
                "exit_status": s.summary.get("exit_status"),
                "config": s.summary.get("config"),
            }
            for s in sources
        ],
    )


def write_merged(
    sources: Sequence[SourceRun], report: RunReport, results: Path, run_dir: Path
) -> None:
    """The console logs copied to the same run-relative paths (console/<kernel>/...), then
    the reports (the TAP files from the results), then `latest`."""
    try:
        for source in sources:
            for kernel in source.plan.kernels:
                logs = source.path / "console" / kernel.name
                if logs.is_dir():
                    shutil.copytree(logs, run_dir / "console" / kernel.name)
        write_reports(run_dir, report)
        point_latest(results, run_dir)
    except OSError as e:
        raise InfraError(
            f"cannot write the merged run to {run_dir} ({e})",
            "pass --results DIR with a directory you can write, with free space",
        ) from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator.merge",
        description="Merge the results directories of several runs (one kernel each, made "
        "on different machines) into one run directory with one summary.json, junit.xml "
        "and report.html. Exit status: 0 all passed or expected, 1 a test failed (with "
        "--baseline: a regression, new failure or gone subtest), 2 infrastructure error (in "
        "a run, or in the merge's input).",
    )
    parser.add_argument(
        "--results", required=True, type=Path, metavar="OUT",
        help="where the merged run goes: OUT/<run-id>, with OUT/latest pointing at it",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", metavar="PATH",
        help="an earlier run (its results directory, or its summary.json), such as the target "
        "branch's last merge: each subtest is classed against it and the exit status is the "
        "gate's (1 only on a regression, a new failure or a gone subtest)",
    )  # fmt: skip
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR",
        help="a run directory (results/<run-id>) or a --results directory of one run",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sources = [load_run(given) for given in args.runs]
        check_kernels(sources)
        report = merge_runs(sources, "", args.baseline)
        run_id, run_dir = make_run_dir(args.results)
        report.run_id = run_id
        write_merged(sources, report, args.results, run_dir)
    except InfraError as e:
        print(f"residency-merge: error: {e.one_line()}", file=sys.stderr)
        return verdict.EXIT_INFRA
    for line in terminal_summary(report, run_dir):
        print(line)
    meaning = verdict.meaning(report.exit_status, bool(report.infrastructure_errors))
    print(f"exit status {report.exit_status}: {meaning}")
    return report.exit_status


def main_exit() -> None:
    """The `residency-merge` console script."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
