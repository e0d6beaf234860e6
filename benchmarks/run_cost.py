"""What one orchestrator run of one program costs against booting the same kernel by hand.

    tox -e bench -- [--rounds N] [--program shmem_lseek] [--accel auto|kvm|tcg]

(or `python benchmarks/run_cost.py` in an environment like `tox -e kernel`'s: one where the
dev extras are installed, hypothesis among them, adds about 1.4 s to every orchestrator run,
its pytest plugin importing hypothesis for the terminal summary).

Times, paired A B C A B C over N rounds (after one warm-up round that is not counted), the
whole-process wall time of:

  fastest: the fastest hand boot of the default kernel running the program: -M microvm, the
           PVH vmlinux extracted from the bzImage, a virtio-mmio swap disk, the kernel
           command line of the orchestrator's microvm guests (tsc_early_khz with the host's
           TSC rate, cryptomgr.notests, loglevel=4, pci=off, ...), and an init that loads the
           virtio modules, turns swap on, runs the static test program and resets
           (-no-reboot);
  plain:   the plain hand boot: -M pc -kernel bzImage, an init of one line (poweroff -f);
  orchestrator: python -m orchestrator -k PROGRAM --results <tmp> (warm cache);

and prints the medians, the ratios against the fastest hand boot (medians of the per-round
ratios, which a shared, noisy machine disturbs less than the seconds) and the peak RSS: of
QEMU for the hand boots, of the largest process (QEMU) of the orchestrator's tree.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.accel import choose_accel
from orchestrator.build import build_selftests
from orchestrator.cache import default_cache_dir
from orchestrator.image import CpioWriter, find_busybox, read_module, resolve_modules
from orchestrator.kernel import Kernel, resolve_kernel
from orchestrator.qemu import QEMU, VmConfig, microvm_append
from orchestrator.swap import write_swap_image
from orchestrator.tsc import host_tsc_rate
from orchestrator.vmlinux import extract_vmlinux

ROOT = Path(__file__).resolve().parent.parent
MEMORY = "256M"  # the orchestrator's defaults
SMP = "2"
SWAP_MB = 512
# The disk modules of the fastest boot: the block driver and the virtio-mmio transport.
FASTEST_MODULES = ("virtio_blk", "virtio_mmio")
MARKER = "RUN-COST-RC="


@dataclass
class Measure:
    seconds: float
    peak_rss_kb: int
    returncode: int
    output: str


def run(cmd: list[str], workdir: Path, cwd: Path | None = None, timeout: float = 600) -> Measure:
    """Run @cmd to its end; its wall time, and the peak RSS of it and the children it waited
    for (wait4's rusage), which for QEMU is QEMU's own."""
    out_path = workdir / "out.txt"
    with out_path.open("wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measure(seconds, usage.ru_maxrss, proc.returncode, out_path.read_text(errors="replace"))


def busybox_cpio(init: str) -> CpioWriter:
    cpio = CpioWriter()
    for d in ("bin", "dev", "lib", "proc", "sys", "tmp"):
        cpio.dir(d)
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", find_busybox().read_bytes(), 0o755)
    cpio.file("init", init.encode(), 0o755)
    return cpio


def fastest_initramfs(kernel: Kernel, program: Path, path: Path) -> None:
    modules = resolve_modules(kernel.modules_dir, FASTEST_MODULES) if kernel.modules_dir else []
    loads = "".join(f"insmod /lib/{i}.ko\n" for i in range(len(modules)))
    init = (
        "#!/bin/busybox sh\n"
        "/bin/busybox --install -s /bin\n"
        "export PATH=/bin\n"
        "mount -t proc proc /proc\n"
        "mount -t sysfs sysfs /sys\n"
        "mount -t devtmpfs devtmpfs /dev\n"
        "mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm\n"
        f"{loads}"
        "n=0; while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.01; n=$((n + 1)); done\n"
        "swapon /dev/vda\n"
        "echo 0 > /proc/sys/vm/page-cluster\n"
        f"/{program.name} </dev/null 2>&1\n"
        f'echo "{MARKER}$?"\n'
        "reboot -f\n"
    )
    cpio = busybox_cpio(init)
    for i, module in enumerate(modules):
        cpio.file(f"lib/{i}.ko", read_module(module))
    cpio.file(program.name, program.read_bytes(), 0o755)
    path.write_bytes(cpio.finish())


def plain_initramfs(path: Path) -> None:
    path.write_bytes(busybox_cpio("#!/bin/busybox sh\n/bin/busybox poweroff -f\n").finish())


def accel_args(accel: str) -> list[str]:
    return ["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg"]


def fastest_command(
    vmlinux: Path, initramfs: Path, swap: Path, tsc_khz: int, accel: str
) -> list[str]:
    # The orchestrator's own microvm kernel command line (loglevel=4, pci=off, ...): what
    # makes its guests boot faster makes the hand boot faster too, so the ratio measures
    # the orchestrator, not its kernel options.
    cfg = VmConfig(accel="kvm" if accel == "kvm" else "tcg")
    append = microvm_append(cfg, tsc_khz if accel == "tcg" else None)
    return [
        QEMU, *accel_args(accel), "-M", "microvm,pit=on,pic=on,rtc=on", "-m", MEMORY,
        "-smp", SMP, "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
        "-no-reboot", "-kernel", str(vmlinux), "-initrd", str(initramfs), "-append", append,
        "-drive", f"file={swap},format=raw,if=none,id=d0,cache=unsafe",
        "-device", "virtio-blk-device,drive=d0",
    ]  # fmt: skip


def plain_command(bzimage: Path, initramfs: Path, accel: str) -> list[str]:
    return [
        QEMU, *accel_args(accel), "-M", "pc", "-m", MEMORY, "-smp", SMP, "-nodefaults",
        "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
        "-kernel", str(bzimage), "-initrd", str(initramfs),
        "-append", "console=ttyS0 panic=-1",
    ]  # fmt: skip


def check(kind: str, m: Measure) -> None:
    """A run that did not do its work measures nothing: stop."""
    ok = m.returncode == 0
    if kind == "fastest":
        rc = re.search(rf"{MARKER}(\d+)", m.output)
        ok = ok and rc is not None and "# Totals:" in m.output
    if not ok:
        sys.exit(f"the {kind} run failed (exit {m.returncode}):\n{m.output[-3000:]}")


@dataclass
class Cost:
    """The medians of one kind of run, and its ratios to the hand boots, paired by round."""

    kind: str
    median: float
    to_fastest: float
    to_plain: float
    peak_rss_mib: int


def one_program(rounds: int, program_name: str, accel_wanted: str) -> list[Cost]:
    """Time the three runs, paired A B C A B C over @rounds (after a warm-up round), printing
    each round; the medians and ratios."""
    cache = default_cache_dir()
    kernel = resolve_kernel(None, None, cache, ROOT / "qemu-images" / "kernel-presets.toml")
    tests = build_selftests(ROOT / "selftests" / "vm", cache)
    program = tests.install_dir / program_name
    if not program.is_file():
        sys.exit(f"no test program {program_name} in {tests.install_dir}")
    vmlinux = extract_vmlinux(kernel.image, cache)
    if not vmlinux.pvh:
        sys.exit(f"{kernel.name} has no PVH entry: no microvm hand boot")
    accel, why = choose_accel(accel_wanted, kernel.image, cache)
    rate = host_tsc_rate(cache)
    print(f"kernel {kernel.name} ({kernel.version_string.split(' ', 1)[0]}), accel {accel} "
          f"({why}), RAM {MEMORY}, smp {SMP}, swap {SWAP_MB}M, program {program_name}")  # fmt: skip
    print(f"vmlinux {vmlinux.path.stat().st_size // 2**20} MiB ({vmlinux.compression} payload), "
          f"PVH entry {vmlinux.pvh_entry:#x}; host TSC {rate.describe()}")  # fmt: skip

    kinds = ("fastest", "plain", "orchestrator")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    rss: dict[str, list[int]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="run-cost-") as tmp_name:
        tmp = Path(tmp_name)
        fastest_cpio, plain_cpio, swap = tmp / "fastest.cpio", tmp / "plain.cpio", tmp / "swap"
        fastest_initramfs(kernel, program, fastest_cpio)
        plain_initramfs(plain_cpio)
        commands = {
            "fastest": fastest_command(vmlinux.path, fastest_cpio, swap, rate.khz, accel),
            "plain": plain_command(kernel.image, plain_cpio, accel),
            "orchestrator": [sys.executable, "-m", "orchestrator", "-k", program_name,
                             "--accel", accel_wanted, "--results", str(tmp / "results")],
        }  # fmt: skip
        for kind in kinds:
            print(f"{kind}: {' '.join(commands[kind])}")
        for round_ in range(rounds + 1):
            line = []
            for kind in kinds:
                write_swap_image(swap, SWAP_MB)  # a fresh disk, as the orchestrator's guest has
                m = run(commands[kind], tmp, cwd=ROOT)
                check(kind, m)
                if round_ == 0:
                    continue  # warm-up: page cache, the orchestrator's initramfs
                times[kind].append(m.seconds)
                rss[kind].append(m.peak_rss_kb)
                line.append(f"{kind} {m.seconds:.2f}s")
            if round_ == 0:
                print("warm-up round done (not counted)")
            else:
                print(f"round {round_}: " + ", ".join(line), flush=True)
    costs = []
    for kind in kinds:
        ratios = [t / f for t, f in zip(times[kind], times["fastest"], strict=True)]
        to_plain = [t / p for t, p in zip(times[kind], times["plain"], strict=True)]
        costs.append(Cost(kind, statistics.median(times[kind]), statistics.median(ratios),
                          statistics.median(to_plain), max(rss[kind]) // 1024))  # fmt: skip
    return costs


def cost_table(costs: list[Cost], rounds: int) -> list[str]:
    lines = [
        f"medians of {rounds} rounds, ratios paired round by round:",
        f"{'run':<16} {'median':>8} {'x fastest':>10} {'x plain':>8} {'peak RSS':>10}",
    ]
    for c in costs:
        lines.append(f"{c.kind:<16} {c.median:7.2f}s {c.to_fastest:9.2f}x {c.to_plain:7.2f}x "
                     f"{c.peak_rss_mib:>7} MiB")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--program", default="shmem_lseek")
    parser.add_argument("--accel", default="auto", choices=("auto", "kvm", "tcg"))
    args = parser.parse_args()
    costs = one_program(args.rounds, args.program, args.accel)
    print()
    print("\n".join(cost_table(costs, args.rounds)))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"(peak RSS: QEMU's for the hand boots; for the orchestrator runs the largest process "
        f"of the tree, its QEMU; this script's own: {own} MiB)"
    )


if __name__ == "__main__":
    main()
