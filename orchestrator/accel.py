"""Choose KVM or TCG: a probe guest must really boot under KVM; the verdict is cached for
the host's boot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from .cache import atomic_write_bytes, atomic_write_text
from .image import CpioWriter, find_busybox
from .qemu import QEMU, VmConfig, qemu_command

KVM_PROBE_TIMEOUT = 15.0


def _probe_initramfs(cache: Path) -> Path:
    path = cache / "accel-probe.cpio"
    if not path.is_file():
        cpio = CpioWriter()
        cpio.dir("bin")
        cpio.dir("dev")
        cpio.char_device("dev/console", 5, 1)
        cpio.file("bin/busybox", find_busybox().read_bytes(), 0o755)
        script = b"#!/bin/busybox sh\n/bin/busybox echo KVM-PROBE-OK\n/bin/busybox poweroff -f\n"
        cpio.file("init", script, 0o755)
        atomic_write_bytes(path, cpio.finish())
    return path


def _host_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _cached_verdict(verdict_file: Path, key: str) -> tuple[str, str] | None:
    try:
        saved = json.loads(verdict_file.read_text())
        if saved.get("key") == key:
            return str(saved["accel"]), str(saved["why"]) + " (probed earlier on this host boot)"
    except (OSError, ValueError, KeyError):
        pass
    return None


def _probe(image: Path, cache: Path, qemu: str) -> tuple[str, str]:
    cfg = VmConfig(memory_mb=128, smp=1, accel="kvm", qemu=qemu)
    cmd = qemu_command(cfg, image, _probe_initramfs(cache), None)
    start = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=KVM_PROBE_TIMEOUT, check=False)
        ok = b"KVM-PROBE-OK" in out.stdout
        why = (
            f"a KVM probe guest booted in {time.monotonic() - start:.1f}s"
            if ok
            else f"the KVM probe guest failed (exit {out.returncode})"
        )
    except subprocess.TimeoutExpired:
        ok = False
        why = f"the KVM probe guest hung for {KVM_PROBE_TIMEOUT:.0f}s"
    return ("kvm" if ok else "tcg"), why


def choose_accel(requested: str, image: Path, cache: Path, qemu: str = QEMU) -> tuple[str, str]:
    """Pick kvm or tcg and say why.  'auto' boots a one-line guest under KVM with a short
    timeout: on some hosts /dev/kvm exists and a guest hangs forever, so its existence
    proves nothing.  The verdict is kept for the host's boot and QEMU binary."""
    if requested in ("kvm", "tcg"):
        return requested, f"forced by --accel {requested}"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "/dev/kvm is missing or not accessible"
    qemu_path = shutil.which(qemu) or qemu
    key = f"{_host_boot_id()} {qemu_path} {os.stat(qemu_path).st_mtime_ns}"
    verdict_file = cache / "accel-probe.json"
    cached = _cached_verdict(verdict_file, key)
    if cached is not None:
        return cached
    accel, why = _probe(image, cache, qemu)
    atomic_write_text(verdict_file, json.dumps({"key": key, "accel": accel, "why": why}))
    return accel, why
