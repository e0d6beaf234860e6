"""The QEMU command line of a guest: machine, memory, CPUs, kernel, console and swap disk."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import InfraError

QEMU = "qemu-system-x86_64"


@dataclass(frozen=True)
class VmConfig:
    """The plan's VM settings: what every guest of a run gets."""

    memory_mb: int = 256
    swap_mb: int = 512
    smp: int = 2
    accel: Literal["kvm", "tcg"] = "tcg"
    boot_timeout: float = 120.0
    qemu: str = QEMU


def kernel_cmdline(extra: str = "") -> str:
    # cryptomgr.notests: the crypto self-tests test nothing of ours, cost boot time and once
    # hung a TCG boot for over 100 s (a soft lockup in alg_test).
    # loglevel=4: only errors and worse reach the console.  A kernel line printed while a test
    # writes its TAP lands in the middle of a result line (seen: "clocksource: Marking
    # clocksource tsc unstable", "sysrq: Trigger a crash"), corrupting the subtest's name.
    # Panics and oopses still print in full (they raise the console's level themselves);
    # the init prints the kernel log after a program that tainted the kernel (a WARN).
    args = ["console=ttyS0", "panic=-1", "loglevel=4", "rdinit=/init", "8250.nr_uarts=1",
            "cryptomgr.notests"]  # fmt: skip
    return " ".join(args + ([extra] if extra else []))


def qemu_command(
    cfg: VmConfig,
    image: Path,
    initramfs: Path,
    swap_image: Path | None,
    append: str = "",
    machine: str = "pc",
    disk_device: str = "virtio-blk-pci",
    cmdline: str | None = None,
) -> list[str]:
    """The guest's QEMU command line: serial console and monitor on one stdio mux,
    -no-reboot, the swap disk on @disk_device.  @machine and @disk_device default to the
    PC; @cmdline, when given, replaces kernel_cmdline(@append)."""
    cmd = [
        cfg.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-M", machine, "-accel", cfg.accel, "-m", f"{cfg.memory_mb}M", "-smp", str(cfg.smp),
        "-kernel", str(image), "-initrd", str(initramfs),
        "-append", kernel_cmdline(append) if cmdline is None else cmdline,
        "-chardev", "stdio,id=console,signal=off,mux=on", "-serial", "chardev:console",
        "-mon", "chardev=console,mode=readline",
    ]  # fmt: skip
    if cfg.accel == "kvm":
        cmd += ["-cpu", "host"]
    if swap_image is not None:
        cmd += [
            "-drive", f"file={swap_image},format=raw,if=none,id=swap,cache=unsafe",
            "-device", f"{disk_device},drive=swap",
        ]  # fmt: skip
    return cmd


def check_qemu(qemu: str = QEMU) -> str:
    """The QEMU version line, or InfraError when QEMU is missing."""
    if shutil.which(qemu) is None:
        raise InfraError(f"{qemu} is not on PATH", "apt-get install qemu-system-x86")
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else qemu
