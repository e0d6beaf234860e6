"""Boot cost of our guest versus a bare QEMU boot of the same kernel, side by side.

    python benchmarks/boot_time.py [--repeat N] [--accel tcg|kvm|auto]

Prints, for each of N rounds, the seconds from QEMU start to power-off of
  bare:  qemu-system-x86_64 -kernel K -initrd <one-line init that powers off>
  ready: our guest (modules, swap disk, mkswap/swapon) booted to ready, then powered off
  suite: our guest booted, every test program run, then powered off
and the medians with the ratios against bare.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from orchestrator.accel import choose_accel
from orchestrator.boot import QemuGuest
from orchestrator.build import build_selftests
from orchestrator.cache import default_cache_dir
from orchestrator.image import CpioWriter, build_initramfs, find_busybox
from orchestrator.kernel import resolve_kernel
from orchestrator.qemu import VmConfig, qemu_command

ROOT = Path(__file__).resolve().parent.parent


def bare_initramfs(path: Path) -> None:
    cpio = CpioWriter()
    cpio.dir("bin")
    cpio.dir("dev")
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", find_busybox().read_bytes(), 0o755)
    cpio.file("init", b"#!/bin/busybox sh\n/bin/busybox poweroff -f\n", 0o755)
    path.write_bytes(cpio.finish())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--accel", default="auto", choices=("auto", "kvm", "tcg"))
    args = parser.parse_args()

    cache = default_cache_dir()
    kernel = resolve_kernel(None, None, cache, ROOT / "qemu-images" / "kernel-presets.toml")
    tests = build_selftests(ROOT / "selftests" / "vm", cache)
    image = build_initramfs(kernel, tests, ROOT / "qemu-images" / "init", cache, swap=True)
    accel, why = choose_accel(args.accel, kernel.image, cache)
    cfg = VmConfig(accel="kvm" if accel == "kvm" else "tcg")
    print(f"kernel {kernel.name}, accel {accel} ({why}), RAM {cfg.memory_mb}M, smp {cfg.smp}")

    times: dict[str, list[float]] = {"bare": [], "ready": [], "suite": []}
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.cpio"
        bare_initramfs(bare)
        bare_cmd = qemu_command(
            VmConfig(memory_mb=cfg.memory_mb, smp=cfg.smp, accel=cfg.accel),
            kernel.image, bare, None,
        )  # fmt: skip
        for round_ in range(args.repeat):
            start = time.monotonic()
            subprocess.run(bare_cmd, capture_output=True, check=True, timeout=300)
            times["bare"].append(time.monotonic() - start)

            for kind in ("ready", "suite"):
                log = Path(tmp) / f"{kind}-{round_}.log"
                guest = QemuGuest(cfg, kernel.image, image.initramfs, log)
                start = time.monotonic()
                guest.boot()
                if kind == "suite":
                    for program in tests.programs:
                        guest.run(program, float(tests.timeout))
                guest.shutdown()
                times[kind].append(time.monotonic() - start)
            print(
                f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
            )
    base = statistics.median(times["bare"])
    for kind, values in times.items():
        median = statistics.median(values)
        print(f"median {kind:5} {median:6.2f}s  x{median / base:.2f} of bare")


if __name__ == "__main__":
    main()
