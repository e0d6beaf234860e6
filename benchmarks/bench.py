"""Everything issue 10 measures, from one run, side by side.

    tox -e bench -- [--rounds N] [--skip-one] [--skip-suite] [--skip-matrix]

1. the one-program run (`-k shmem_lseek`, default kernel, warm) against the fastest and the
   plain hand boot of the same kernel, paired round by round (run_cost.py);
2. the whole suite on the default kernel with the default -n/--smp: per program its seconds
   from summary.json, the boots, the wall time, and QEMU's peak RSS against the guest's RAM
   (VmHWM of every QEMU of the run, read from /proc while it runs);
3. the four presets with -n 1 and with -n 2 (--smp fitted by the defaults), their wall times,
   the ratio, and whether the two runs gave the same status to every subtest;
4. Ctrl-C and SIGTERM: the whole suite, the signal sent to its process group (as a terminal
   sends Ctrl-C) some seconds in, while programs run; the seconds from the signal to the
   orchestrator's exit, its exit status, whether its reports were written, and whether any
   QEMU outlived it.

The orchestrator runs are `python -m orchestrator` with --results in a temporary directory.
Nothing here asserts a time; one QEMU-booting command runs at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run_cost import cost_table, one_program

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ("debian:6.1", "debian:6.12", "debian:7.2", "debian:7.3")
POLL = 0.1  # seconds between reads of /proc: VmHWM only grows, so a late read loses nothing


@dataclass
class SuiteRun:
    """One orchestrator run: its wall time, summary.json, and the peak RSS of each QEMU."""

    argv: list[str]
    seconds: float
    returncode: int
    summary: dict[str, Any]
    qemu_hwm_kb: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM
    qemu_ram_mb: dict[int, int] = field(default_factory=dict)  # pid -> its -m

    def rss_excess(self) -> tuple[int, int, int]:
        """(peak RSS MiB, its guest RAM MiB, the excess) of the QEMU whose RSS exceeded
        its guest RAM the most."""
        rows = [(kb // 1024, self.qemu_ram_mb.get(pid, 0)) for pid, kb in self.qemu_hwm_kb.items()]
        peak, ram = max(rows, key=lambda r: r[0] - r[1], default=(0, 0))
        return peak, ram, peak - ram


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _tree(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(_children(pid))
    return found


def _qemu_hwm(pid: int) -> int | None:
    """VmHWM (kB) of @pid when it is a QEMU, else None."""
    try:
        if not Path(f"/proc/{pid}/comm").read_text().startswith("qemu-system"):
            return None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _guest_ram_mb(pid: int) -> int:
    """The -m of a QEMU's command line (MiB), 0 when unknown."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        value = argv[argv.index("-m") + 1]
    except (OSError, ValueError, IndexError):
        return 0
    return int(value.rstrip("M")) if value.rstrip("M").isdigit() else 0


def orchestrator(args: list[str], results: Path) -> SuiteRun:
    """Run the orchestrator to its end, reading the VmHWM of every QEMU in its process tree
    every POLL seconds."""
    argv = [sys.executable, "-m", "orchestrator", *args, "--results", str(results)]
    print("$ " + " ".join(argv[1:]), flush=True)
    hwm: dict[int, int] = {}
    ram: dict[int, int] = {}
    start = time.monotonic()
    log = results.parent / f"{results.name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
        while proc.poll() is None:
            for pid in _tree(proc.pid):
                value = _qemu_hwm(pid)
                if value is not None:
                    hwm[pid] = max(value, hwm.get(pid, 0))
                    if pid not in ram:
                        ram[pid] = _guest_ram_mb(pid)
            time.sleep(POLL)
    seconds = time.monotonic() - start
    try:
        summary = json.loads((results / "latest" / "summary.json").read_text())
    except (OSError, ValueError):
        sys.exit(f"the run left no summary.json (exit {proc.returncode}); see {log}")
    if summary.get("infrastructure_errors"):
        sys.exit(f"the run had infrastructure errors: {summary['infrastructure_errors']}")
    return SuiteRun(argv, seconds, proc.returncode, summary, hwm, ram)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted(signum: int, after: float, results: Path) -> str:
    """The whole suite, @signum to its process group @after seconds in: how long it took to
    exit, and what it left."""
    argv = [sys.executable, "-m", "orchestrator", "--results", str(results)]
    log = results.parent / f"{results.name}.log"
    with log.open("wb") as out:
        # As at a terminal: SIGINT handled by default, even when this benchmark runs as a
        # background job (which ignores SIGINT, and so would the run: interrupt.install).
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_default_sigint)  # fmt: skip
        time.sleep(after)
        qemus = [pid for pid in _tree(proc.pid) if _qemu_hwm(pid) is not None]
        sent = time.monotonic()
        os.killpg(proc.pid, signum)
        code = proc.wait()
        seconds = time.monotonic() - sent
    left = [pid for pid in qemus if Path(f"/proc/{pid}").exists()]
    summary = results / "latest" / "summary.json"
    try:
        complete = json.loads(summary.read_text()).get("complete")
        written = f"summary.json written (complete={complete})"
    except (OSError, ValueError):
        written = "NO summary.json"
    name = signal.Signals(signum).name
    return (
        f"  {name} {after:.0f} s in ({len(qemus)} QEMU running): exit {code} after "
        f"{seconds:.2f} s; {written}; QEMU left running: {len(left)}"
    )


def statuses(summary: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {(r["kernel"], r["program"], r["subtest"]): r["status"] for r in summary["results"]}


def suite_lines(run: SuiteRun) -> list[str]:
    config = run.summary["config"]
    memory = config["memory_mb"]
    lines = [
        f"whole suite, default kernel: {run.seconds:.1f} s wall, exit {run.returncode}, "
        f"{config.get('workers', 1)} VM(s) at once, --smp {config['smp']}",
        f"  ({config.get('parallel_why', '')})",
    ]
    for kernel in run.summary["kernels"]:
        lines.append(f"  {kernel['name']} on {kernel.get('machine', '?')}: boots "
                     f"{kernel.get('boot_seconds', [])} s")  # fmt: skip
    lines.append(f"  {'program':<24} {'seconds':>8}  counts")
    for p in run.summary["programs"]:
        mine = [r["status"] for r in run.summary["results"]
                if r["kernel"] == p["kernel"] and r["program"] == p["program"]]  # fmt: skip
        counts = ", ".join(f"{mine.count(s)} {s}" for s in sorted(set(mine)))
        lines.append(f"  {p['program']:<24} {p['seconds']:8.1f}  {counts}")
    total = sum(p["seconds"] for p in run.summary["programs"])
    lines.append(f"  {'(sum of programs)':<24} {total:8.1f}")
    if run.qemu_hwm_kb:
        top = max(run.qemu_hwm_kb.values()) // 1024
        peak, ram, excess = run.rss_excess()
        lines.append(
            f"  QEMU peak RSS (VmHWM of {len(run.qemu_hwm_kb)} QEMU processes): largest {top} "
            f"MiB; most above its guest RAM: {peak} MiB with -m {ram}M, guest RAM + {excess} MiB"
            f" (--memory {memory}M, sized programs {config.get('program_memory_mb', {})})"
        )
    return lines


def matrix_lines(one: SuiteRun, two: SuiteRun) -> list[str]:
    a, b = statuses(one.summary), statuses(two.summary)
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    lines = ["four presets (" + " ".join(PRESETS) + "):"]
    for label, run in (("-n 1", one), ("-n 2", two)):
        config = run.summary["config"]
        _peak, _ram, excess = run.rss_excess()
        lines.append(f"  {label}: {run.seconds:6.1f} s wall, --smp {config['smp']}, "
                     f"exit {run.returncode}, {len(statuses(run.summary))} subtests, "
                     f"QEMU peak RSS at most guest RAM + {excess} MiB")  # fmt: skip
    lines.append(f"  -n 2 is {one.seconds / two.seconds:.2f}x faster than -n 1")
    lines.append(f"  subtests whose status differs between the two runs: {len(differ)}")
    lines += [f"    {k}: {a.get(k)} -> {b.get(k)}" for k in differ[:20]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the one-program runs")
    parser.add_argument("--program", default="shmem_lseek")
    parser.add_argument("--skip-one", action="store_true", help="leave out the one-program runs")
    parser.add_argument("--skip-suite", action="store_true", help="leave out the whole suite")
    parser.add_argument("--skip-matrix", action="store_true", help="leave out the 4 presets")
    parser.add_argument("--skip-interrupt", action="store_true", help="leave out Ctrl-C/SIGTERM")
    parser.add_argument("--interrupt-after", type=float, default=6.0, metavar="SECONDS")
    parser.add_argument("--keep", metavar="DIR", help="keep the runs' results in DIR")
    args = parser.parse_args()
    report: list[str] = [f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()}"]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(args.keep) if args.keep else Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        if not args.skip_one:
            report += ["", f"one program ({args.program}), default kernel, warm:"]
            report += cost_table(one_program(args.rounds, args.program, "auto"), args.rounds)
        if not args.skip_suite:
            orchestrator([], tmp / "warm")  # warm: kernel, tests, initramfs, vmlinux
            report += ["", *suite_lines(orchestrator([], tmp / "suite"))]
        if not args.skip_matrix:
            kernels = [a for preset in PRESETS for a in ("--kernel", preset)]
            orchestrator([*kernels, "-k", "shmem_lseek"], tmp / "matrix-warm")
            one = orchestrator([*kernels, "-n", "1"], tmp / "matrix-n1")
            two = orchestrator([*kernels, "-n", "2"], tmp / "matrix-n2")
            report += ["", *matrix_lines(one, two)]
        if not args.skip_interrupt:
            report += ["", "interrupting the whole suite (default kernel):"]
            for signum in (signal.SIGINT, signal.SIGTERM):
                name = signal.Signals(signum).name.lower()
                report.append(interrupted(signum, args.interrupt_after, tmp / f"int-{name}"))
    report.append(f"load average at the end {os.getloadavg()}")
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
