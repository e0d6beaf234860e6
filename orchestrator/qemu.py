"""The QEMU command line of a guest: machine, memory, CPUs, kernel, console and swap disk."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import InfraError

QEMU = "qemu-system-x86_64"
Machine = Literal["microvm", "pc"]
# microvm with the legacy PIT, PIC and RTC: the kernel's early timer and IRQ setup want them.
MICROVM = "microvm,pit=on,pic=on,rtc=on"


@dataclass(frozen=True)
class VmConfig:
    """The plan's VM settings: what every guest of a run gets."""

    memory_mb: int = 256
    swap_mb: int = 512
    smp: int = 2
    accel: Literal["kvm", "tcg"] = "tcg"
    boot_timeout: float = 120.0
    qemu: str = QEMU
    tsc_khz: int | None = None  # the host's TSC rate, for a microvm guest under TCG
    # A guest whose programs fill its RAM (the memory-pressure scenarios, in guests sized
    # for them): QEMU's own memory is kept small (accel_arg(), and the boot files in boot.py)
    # so that QEMU stays within its guest's RAM + 64 MiB.
    lean: bool = False


# The TCG translation cache of a lean guest, in MiB.  QEMU's default (an eighth of the
# host's RAM, at most 1 GiB) is never given back and grows with each block of guest code
# translated: 36 MiB of it by the end of a boot of Debian's 6.1, 50 MiB after the pressure
# scenario.  With 16 MiB the two pressure programs ran as fast (medians of 3 suite runs:
# 5.6 and 4.5 s, against 5.6 and 4.9 s), while the short programs ran twice as slow (the
# kernel code they exercise does not fit), so only lean guests get it.
LEAN_TB_MB = 16


def accel_arg(cfg: VmConfig) -> str:
    """The value of -accel."""
    if cfg.accel == "tcg" and cfg.lean:
        return f"tcg,tb-size={LEAN_TB_MB}"
    return cfg.accel


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
        "-M", machine, "-accel", accel_arg(cfg), "-m", f"{cfg.memory_mb}M", "-smp", str(cfg.smp),
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


def microvm_append(cfg: VmConfig, tsc_khz: int | None, extra: str = "") -> str:
    """The kernel command line on microvm: kernel_cmdline plus, under TCG, the host's TSC
    rate (KVM gives the guest kvm-clock and the real TSC rate).  microvm has no HPET or PM
    timer to calibrate the TSC against, and a TCG guest hung in most boots without it.
    pci=off: microvm has no PCI bus (its disk is on virtio-mmio), and probing for one cost
    0.12-0.17 s of each TCG boot here.  The kernel still says "PCI: Fatal: No config space
    access function found" either way: harmless."""
    words = ["pci=off", *([extra] if extra else [])]
    if cfg.accel == "tcg":
        if tsc_khz is None or tsc_khz <= 0:
            raise ValueError("a TCG microvm guest needs the host's TSC rate (tsc_early_khz)")
        words.append(f"tsc_early_khz={tsc_khz}")
    return kernel_cmdline(" ".join(words))


def microvm_command(
    cfg: VmConfig,
    kernel: Path,
    initramfs: Path,
    swap_image: Path | None,
    tsc_khz: int | None,
    append: str = "",
) -> list[str]:
    """The QEMU command line of a microvm guest: qemu_command's, on microvm, with the swap
    disk on virtio-mmio and the TSC rate on the kernel command line."""
    return qemu_command(
        cfg, kernel, initramfs, swap_image, machine=MICROVM, disk_device="virtio-blk-device",
        cmdline=microvm_append(cfg, tsc_khz, append),
    )  # fmt: skip


def guest_command(
    cfg: VmConfig,
    machine: Machine,
    kernel: Path,
    initramfs: Path,
    swap_image: Path | None,
    append: str = "",
) -> list[str]:
    """The command line of a test guest on @machine: for microvm, @kernel is the PVH vmlinux
    and the TSC rate is cfg.tsc_khz; for pc, the bzImage."""
    if machine == "microvm":
        return microvm_command(cfg, kernel, initramfs, swap_image, cfg.tsc_khz, append)
    return qemu_command(cfg, kernel, initramfs, swap_image, append)


def check_qemu(qemu: str = QEMU) -> str:
    """The QEMU version line, or InfraError when QEMU is missing."""
    if shutil.which(qemu) is None:
        raise InfraError(f"{qemu} is not on PATH", "apt-get install qemu-system-x86")
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else qemu
