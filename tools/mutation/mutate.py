"""Mutation testing of the suite: does it turn red when the kernel really breaks?

Applies each small deliberate regression in tools/mutation/mutants/ to a Linux source tree
(Debian's linux-source-6.12 by default), builds a minimal kernel (tinyconfig plus the
guest's, the tests' and tools/mutation/tiny.config's options), runs the whole suite on it
through the orchestrator, and prints a kill matrix: for each mutant the subtests it turned
red (fail, crash, timeout, error or xpass, where the unmodified kernel had none) and the
subtests it turned into skips.  The unmodified kernel runs first and must have no red
subtest.  Exit status 0 when every mutant is killed, 1 when one survives or the unmodified
kernel is red, 2 when something else went wrong.

    python tools/mutation/mutate.py [--tree DIR] [--work DIR] [--mutant NAME ...]
                                    [-- orchestrator options, e.g. -n 2 --smp 1]

The tree is patched and built in place, each mutant reverted after its build: give it a
tree of its own.  Without --tree, linux-source-6.12 is fetched from Debian (trixie) through
the orchestrator's private apt lists and unpacked into the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orchestrator.cache import default_cache_dir  # noqa: E402
from orchestrator.debian import PrivateApt  # noqa: E402
from orchestrator.errors import InfraError  # noqa: E402
from orchestrator.upstream import unpack_source_deb  # noqa: E402

HERE = Path(__file__).resolve().parent
MUTANTS = HERE / "mutants"
FRAGMENTS = [ROOT / "qemu-images/kernel.config", ROOT / "selftests/vm/config", HERE / "tiny.config"]
RED = {"fail", "crash", "timeout", "error", "xpass"}
SOURCE_PACKAGE = "linux-source-6.12"
SOURCE_SUITES = ("trixie", "trixie-security")


@dataclass
class Outcome:
    name: str
    statuses: dict[str, str] = field(default_factory=dict)  # "program:subtest" -> status
    build_seconds: float = 0.0
    run_seconds: float = 0.0
    exit_status: int = 0

    def red(self) -> set[str]:
        return {k for k, v in self.statuses.items() if v in RED}

    def skipped(self) -> set[str]:
        return {k for k, v in self.statuses.items() if v == "skip"}


def run(cmd: list[str], cwd: Path, log: Path, what: str) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise InfraError(f"{what} failed (exit {proc.returncode})", f"read {log}")


def fetch_tree(cache: Path) -> Path:
    base = cache / "mutation" / SOURCE_PACKAGE
    tree = base / SOURCE_PACKAGE
    if (tree / "Makefile").is_file():
        return tree
    apt = PrivateApt(cache / "apt" / "mutation-source", SOURCE_SUITES)
    apt.prepare()
    base.mkdir(parents=True, exist_ok=True)
    log = base / "fetch.log"
    run(apt.cmd("apt-get", "download", SOURCE_PACKAGE), base, log, "apt-get download")
    return unpack_source_deb(next(base.glob("*.deb")), base)


def configure(tree: Path, log: Path) -> None:
    run(["make", "tinyconfig"], tree, log, "make tinyconfig")
    merge = ["scripts/kconfig/merge_config.sh", "-m", ".config", *map(str, FRAGMENTS)]
    run(merge, tree, log, "merge_config.sh")
    run(["make", "olddefconfig"], tree, log, "make olddefconfig")
    config = (tree / ".config").read_text().splitlines()
    wanted = [
        line
        for fragment in FRAGMENTS
        for line in fragment.read_text().splitlines()
        if line.startswith("CONFIG_")
    ]
    lost = [line for line in wanted if line not in config]
    if lost:
        raise InfraError(
            f"olddefconfig dropped {', '.join(lost)} in {tree}",
            "add the options they depend on to tools/mutation/tiny.config",
        )


def build(tree: Path, image: Path, log: Path) -> float:
    start = time.monotonic()
    run(["make", f"-j{os.cpu_count() or 1}", "bzImage"], tree, log, "make bzImage")
    image.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(tree / "arch/x86/boot/bzImage", image)
    return time.monotonic() - start


def patch(tree: Path, mutant: Path, log: Path, reverse: bool = False) -> None:
    cmd = ["patch", "-p1", "--forward", "--no-backup-if-mismatch", "-i", str(mutant)]
    if reverse:
        cmd = ["patch", "-p1", "-R", "--no-backup-if-mismatch", "-i", str(mutant)]
    run(cmd, tree, log, f"patch {'-R ' if reverse else ''}{mutant.name}")


def run_suite(name: str, image: Path, results: Path, extra: list[str]) -> Outcome:
    start = time.monotonic()
    cmd = [sys.executable, "-m", "orchestrator", "--kernel", str(image), "--results",
           str(results), "-q", *extra]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    summary_path = results / "latest" / "summary.json"
    if proc.returncode == 2 or not summary_path.is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise InfraError(f"the suite did not run on {name}: {' | '.join(tail)}", f"see {results}")
    summary = json.loads(summary_path.read_text())
    outcome = Outcome(name, exit_status=proc.returncode, run_seconds=time.monotonic() - start)
    for r in summary["results"]:
        outcome.statuses[f"{r['program']}:{r['subtest']}"] = r["status"]
    return outcome


def describe(mutant: Path) -> str:
    return mutant.read_text().split("\n\n", 1)[0].replace("\n", " ")


def kill_matrix(base: Outcome, outcomes: list[Outcome], mutants: dict[str, Path]) -> list[str]:
    lines = [
        f"unmodified kernel: {len(base.statuses)} subtests, {len(base.red())} red, "
        f"{len(base.skipped())} skipped (build {base.build_seconds:.0f}s, "
        f"suite {base.run_seconds:.0f}s)",
        "",
        f"{'mutant':26} {'verdict':8} {'red':>4} {'skips+':>6}  first red subtests",
    ]
    for o in outcomes:
        red = sorted(o.red() - base.red())
        new_skips = sorted(o.skipped() - base.skipped())
        verdict = "killed" if red else "SURVIVED"
        first = ", ".join(red[:3]) + (f" (+{len(red) - 3})" if len(red) > 3 else "")
        lines.append(f"{o.name:26} {verdict:8} {len(red):>4} {len(new_skips):>6}  {first}")
        if new_skips:
            lines.append(f"{'':26} turned into skips: {', '.join(new_skips[:4])}")
    lines.append("")
    for o in outcomes:
        lines.append(f"{o.name}: {describe(mutants[o.name])}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="a Linux source tree of its own (6.12)")
    parser.add_argument("--work", type=Path, help="where images, logs and results go")
    parser.add_argument("--mutant", action="append", help="run only these mutants (by name)")
    parser.add_argument("orchestrator", nargs="*", help="options for the orchestrator")
    args = parser.parse_args(argv)
    cache = default_cache_dir()
    work = args.work or cache / "mutation" / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    mutants = {p.stem: p for p in sorted(MUTANTS.glob("*.patch"))}
    chosen = args.mutant or list(mutants)
    unknown = [m for m in chosen if m not in mutants]
    if unknown:
        print(f"mutate: unknown mutant {', '.join(unknown)}; known: {', '.join(mutants)}")
        return 2
    try:
        tree = args.tree or fetch_tree(cache)
        if not (tree / "Makefile").is_file() or not (tree / "mm").is_dir():
            raise InfraError(f"{tree} is not a Linux source tree", "pass --tree DIR")
        print(f"mutate: tree {tree}, work {work}", flush=True)
        configure(tree, log)
        base_image = work / "images" / "unmodified" / "bzImage"
        seconds = build(tree, base_image, log)
        base = run_suite("unmodified", base_image, work / "results" / "unmodified",
                         args.orchestrator)  # fmt: skip
        base.build_seconds = seconds
        print(f"mutate: unmodified: {len(base.red())} red in {base.run_seconds:.0f}s", flush=True)
        outcomes = []
        for name in chosen:
            image = work / "images" / name / "bzImage"
            patch(tree, mutants[name], log)
            try:
                seconds = build(tree, image, log)
            finally:
                patch(tree, mutants[name], log, reverse=True)
            outcome = run_suite(name, image, work / "results" / name, args.orchestrator)
            outcome.build_seconds = seconds
            outcomes.append(outcome)
            killed = len(outcome.red() - base.red())
            timing = f"build {seconds:.0f}s, suite {outcome.run_seconds:.0f}s"
            print(f"mutate: {name}: {killed} red ({timing})", flush=True)
    except InfraError as e:
        print(f"mutate: {e.one_line()}")
        return 2
    lines = kill_matrix(base, outcomes, mutants)
    (work / "kill-matrix.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    survived = [o.name for o in outcomes if not (o.red() - base.red())]
    return 1 if base.red() or survived else 0


if __name__ == "__main__":
    sys.exit(main())
