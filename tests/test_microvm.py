"""The default Debian kernel really boots on microvm: PVH vmlinux, tsc_early_khz, and a
virtio-mmio swap disk the guest sees and swaps on.  Proof that the microvm path can be wired
into the orchestrator: first with a minimal initramfs of our own, then with the orchestrator's
own guest (qemu-images/init, the disk modules, the tests) running shmem_lseek."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import orchestrator.image as image
from orchestrator.boot import QemuGuest
from orchestrator.build import build_selftests
from orchestrator.cache import default_cache_dir
from orchestrator.expect import load
from orchestrator.image import CpioWriter, build_initramfs, find_busybox, read_module
from orchestrator.kernel import Kernel, resolve_kernel
from orchestrator.machine import MachineChoice, choose_machine, kernel_caps
from orchestrator.qemu import VmConfig, microvm_command
from orchestrator.swap import write_swap_image
from orchestrator.tsc import host_tsc_rate

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def default_kernel() -> tuple[Kernel, MachineChoice]:
    cache = default_cache_dir()
    kernel = resolve_kernel(None, None, cache, ROOT / "qemu-images" / "kernel-presets.toml")
    choice = choose_machine(kernel_caps(kernel, cache), kernel.image)
    return kernel, choice


def minimal_initramfs(kernel: Kernel, choice: MachineChoice, path: Path) -> None:
    """busybox, the virtio-mmio disk modules in their order, and an init that reports what it
    sees, swaps on /dev/vda and resets (-no-reboot turns that into QEMU's exit)."""
    assert kernel.modules_dir is not None
    modules = image.resolve_modules(kernel.modules_dir, choice.modules)
    cpio = CpioWriter()
    for d in ("bin", "dev", "lib", "proc", "sys"):
        cpio.dir(d)
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", find_busybox().read_bytes(), 0o755)
    lines = ["#!/bin/busybox sh", "/bin/busybox --install -s /bin", "export PATH=/bin",
             "mount -t proc proc /proc", "mount -t sysfs sysfs /sys",
             "mount -t devtmpfs devtmpfs /dev"]  # fmt: skip
    for i, module in enumerate(modules):
        cpio.file(f"lib/{i}.ko", read_module(module))
        lines.append(f"insmod /lib/{i}.ko || echo INSMOD-FAILED {module.name}")
    lines += [
        "n=0; while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done",
        "swapon /dev/vda || echo SWAPON-FAILED",
        "d=$(readlink -f /sys/block/vda/device/..)",
        "echo MICROVM-SEEN vda=$(cat /sys/block/vda/size) swap_kb=$(awk '/^SwapTotal:/ "
        "{print $2}' /proc/meminfo) driver=$(basename $(readlink -f $d/driver)) "
        "device=$(basename $d)",
        "reboot -f",
    ]
    cpio.file("init", ("\n".join(lines) + "\n").encode(), 0o755)
    path.write_bytes(cpio.finish())


def test_default_kernel_chooses_microvm(default_kernel: tuple[Kernel, MachineChoice]) -> None:
    _kernel, choice = default_kernel
    assert choice.machine == "microvm", choice.reason
    assert choice.kernel_image.name == "vmlinux"
    assert "virtio_mmio" in choice.modules


def test_default_kernel_boots_on_microvm_with_a_virtio_mmio_swap_disk(
    default_kernel: tuple[Kernel, MachineChoice], tmp_path: Path
) -> None:
    kernel, choice = default_kernel
    initramfs = tmp_path / "init.cpio"
    minimal_initramfs(kernel, choice, initramfs)
    swap = tmp_path / "swap.img"
    write_swap_image(swap, 64)
    rate = host_tsc_rate(default_cache_dir())
    cmd = microvm_command(VmConfig(smp=2), choice.kernel_image, initramfs, swap, rate.khz)
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=180, check=False)  # fmt: skip
    console = out.stdout
    assert out.returncode == 0, console[-3000:] + out.stderr
    assert "INSMOD-FAILED" not in console and "SWAPON-FAILED" not in console, console[-3000:]
    seen = re.search(r"MICROVM-SEEN vda=(\d+) swap_kb=(\d+) driver=(\S+) device=(\S+)", console)
    assert seen, console[-3000:]
    assert seen[1] == str(64 * 1024 * 2), "the guest sees the whole 64 MiB disk (512 B sectors)"
    assert int(seen[2]) > 60 * 1024, "and swaps on it"
    assert seen[3] == "virtio-mmio", "on a virtio-mmio transport"
    # LNRO0005 is virtio-mmio's ACPI id: microvm announced the device in its ACPI tables.
    assert seen[4].startswith("LNRO0005"), seen[4]
    assert "reboot: Restarting system" in console


def test_the_orchestrators_guest_runs_a_test_on_microvm(
    default_kernel: tuple[Kernel, MachineChoice], tmp_path: Path
) -> None:
    """The orchestrator's own guest on microvm: qemu-images/init, the initramfs built with
    the virtio-mmio modules, QemuGuest on machine="microvm" with the host's TSC rate."""
    kernel, choice = default_kernel
    cache = default_cache_dir()
    rate = host_tsc_rate(cache)
    tests = build_selftests(ROOT / "selftests" / "vm", cache)
    guest_image = build_initramfs(kernel, tests, ROOT / "qemu-images" / "init", tmp_path, True,
                                  wanted=choice.modules)  # fmt: skip
    assert any("virtio_mmio" in m for m in guest_image.modules)
    cfg = VmConfig(tsc_khz=rate.khz)
    guest = QemuGuest(cfg, choice.kernel_image, guest_image.initramfs, tmp_path / "console.log",
                      machine="microvm")  # fmt: skip
    try:
        info = guest.boot()
        assert "microvm" in " ".join(guest.command)
        assert info.swap_error == "none" and info.swap_kb >= 500 * 1024, info
        execution = guest.run("shmem_lseek", float(tests.timeout))
        assert execution.outcome == "completed", execution.output
        # The same results as on pc: every subtest reported, the failures only those the
        # expectations file knows for this kernel (they make the exit status 1).
        output = execution.output
        plan = re.search(r"^1\.\.(\d+)$", output, re.M)
        assert plan, output
        results = re.findall(r"^(ok|not ok) \d+ (\S+)", output, re.M)
        assert len(results) == int(plan[1]), output
        known = {e.subtest for e in load(ROOT / "expectations.toml") if e.program == "shmem_lseek"}
        assert {name for status, name in results if status == "not ok"} <= known, output
        assert guest.shutdown() in ("exited", "last words")
    finally:
        guest.kill()
