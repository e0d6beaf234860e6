"""Which QEMU machine boots a kernel: `-M microvm` (PVH vmlinux, virtio-mmio) or `-M pc`.

microvm boots the uncompressed ELF vmlinux at its PVH entry, with no firmware, no PCI and no
bzImage decompression: the fastest boot there is under TCG.  It needs from the kernel:

- PVH (CONFIG_PVH): the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY in the vmlinux;
- virtio-mmio (CONFIG_VIRTIO_MMIO), built in or as a module the initramfs loads: the swap disk
  is a virtio-blk-device on the virtio-mmio bus;
- ACPI (CONFIG_ACPI): microvm announces its virtio-mmio devices in its ACPI tables; a kernel
  without ACPI would find them only on its command line.

Each is decided from the image (the vmlinux note) and the kernel's config (the file the
package or the build left, or the config embedded with CONFIG_IKCONFIG) or its modules;
what cannot be decided falls back to `-M pc`, never guessed.  The boot proves the choice:
a microvm guest that does not see its swap disk is a failed choice (see boot_verdict).

Under TCG the guest gets `tsc_early_khz=` with the host's TSC rate (orchestrator.tsc): microvm
has no HPET or PM timer to calibrate against and hung in most boots without it.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .cache import atomic_write_text
from .errors import InfraError
from .image import read_module
from .kernel import Kernel
from .qemu import Machine
from .source import TreeSource
from .tsc import host_boot_id
from .vmlinux import Vmlinux, extract_vmlinux

MachineKind = Machine
Requested = Literal["auto", "microvm", "pc"]
Tristate = Literal["y", "m", "n", "unknown"]

# The disk modules the guest loads on each machine (orchestrator.image.GUEST_MODULES is pc's).
MICROVM_MODULES = ("virtio_blk", "virtio_mmio")
PC_MODULES = ("virtio_blk", "virtio_pci")
IKCONFIG_START = b"IKCFG_ST"
IKCONFIG_END = b"IKCFG_ED"
ACPI_MATCH = b"alias=acpi*:LNRO0005:"  # virtio_mmio's ACPI id, in its .modinfo


@dataclass(frozen=True)
class Capability:
    value: Tristate
    why: str


@dataclass(frozen=True)
class KernelCaps:
    """What a kernel offers a microvm boot, each with the evidence it was decided from."""

    pvh: Capability  # "y" or "n" (or "unknown" when no vmlinux could be extracted)
    virtio_mmio: Capability
    acpi: Capability
    vmlinux: Path | None
    config: str  # where the config came from, "" when none was found


UNREAD = Capability("unknown", "not read")
# The capabilities of a kernel that was not looked at (--machine pc).
NO_CAPS = KernelCaps(pvh=UNREAD, virtio_mmio=UNREAD, acpi=UNREAD, vmlinux=None, config="")


@dataclass(frozen=True)
class MachineChoice:
    machine: MachineKind
    reason: str
    kernel_image: Path  # what -kernel gets: the vmlinux for microvm, the bzImage for pc
    modules: tuple[str, ...]  # the disk modules the initramfs must load (before built-ins drop)


# -- the kernel's config ------------------------------------------------------------------


def parse_config(text: str) -> dict[str, str]:
    """CONFIG_X=value lines (and '# CONFIG_X is not set' as "n") of a kernel config."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)", line)
        if m:
            values[m[1]] = m[2].strip().strip('"')
            continue
        m = re.match(r"# (CONFIG_\w+) is not set", line)
        if m:
            values[m[1]] = "n"
    return values


def embedded_config(vmlinux: Path) -> str | None:
    """The config a CONFIG_IKCONFIG kernel carries between IKCFG_ST and IKCFG_ED, gzipped."""
    data = vmlinux.read_bytes()
    start = data.find(IKCONFIG_START)
    if start < 0:
        return None
    end = data.find(IKCONFIG_END, start)
    if end < 0:
        return None
    try:
        return gzip.decompress(data[start + len(IKCONFIG_START) : end]).decode("utf-8", "replace")
    except (OSError, EOFError):
        return None


def config_candidates(kernel: Kernel) -> list[Path]:
    """The files that may hold this kernel's config, most specific first."""
    image = kernel.image
    out: list[Path] = []
    if isinstance(kernel.source, TreeSource):  # a source tree built here
        out.append(Path(kernel.source.build_dir) / ".config")
    if image.name.startswith("vmlinuz-"):  # Debian 6.x package, /boot
        out.append(image.parent / ("config-" + image.name.removeprefix("vmlinuz-")))
    if image.name.startswith("vmlinuz"):  # Debian 7.x: usr/lib/modules/<release>/vmlinuz
        out.append(image.parent / "config")
    if image.parts[-4:-1] == ("arch", "x86", "boot"):  # a tree's arch/x86/boot/bzImage
        out.append(image.parents[3] / ".config")
    if kernel.modules_dir is not None:
        release = kernel.modules_dir.name
        out.append(kernel.modules_dir / "config")
        root = kernel.modules_dir.parents[2] if len(kernel.modules_dir.parts) > 3 else None
        if root is not None:
            out.append(root / "boot" / f"config-{release}")
    return out


def read_kernel_config(kernel: Kernel, vmlinux: Path | None) -> tuple[dict[str, str], str]:
    """(config values, where they came from); ({}, "") when none is known."""
    for path in config_candidates(kernel):
        if path.is_file():
            return parse_config(path.read_text(errors="replace")), str(path)
    if vmlinux is not None:
        text = embedded_config(vmlinux)
        if text is not None:
            return parse_config(text), f"{vmlinux} (CONFIG_IKCONFIG)"
    return {}, ""


# -- capabilities -------------------------------------------------------------------------


def _module_files(modules_dir: Path | None, name: str) -> list[Path]:
    if modules_dir is None:
        return []
    return sorted(p for p in modules_dir.rglob(f"{name}.ko*") if p.is_file())


def _builtin_modules(modules_dir: Path | None) -> set[str] | None:
    if modules_dir is None or not (modules_dir / "modules.builtin").is_file():
        return None
    lines = (modules_dir / "modules.builtin").read_text().split()
    return {Path(line).name.split(".ko", 1)[0].replace("-", "_") for line in lines}


def virtio_mmio_capability(
    config: dict[str, str], where: str, modules_dir: Path | None
) -> Capability:
    files = _module_files(modules_dir, "virtio_mmio")
    value = config.get("CONFIG_VIRTIO_MMIO")
    if value == "y":
        return Capability("y", f"CONFIG_VIRTIO_MMIO=y in {where}")
    if value == "m":
        if files:
            return Capability("m", f"CONFIG_VIRTIO_MMIO=m in {where}, module {files[0].name}")
        return Capability("n", f"CONFIG_VIRTIO_MMIO=m in {where} but no virtio_mmio.ko* given")
    if value is not None:
        return Capability("n", f"CONFIG_VIRTIO_MMIO={value} in {where}")
    builtin = _builtin_modules(modules_dir)
    if builtin is not None and "virtio_mmio" in builtin:
        return Capability("y", f"virtio_mmio is listed in {modules_dir}/modules.builtin")
    if files:
        return Capability("m", f"module {files[0]} (no kernel config known)")
    if builtin is not None:
        return Capability("n", f"{modules_dir} has no virtio_mmio, built in or as a module")
    return Capability("unknown", "no kernel config and no modules tell whether it has virtio_mmio")


def acpi_capability(
    config: dict[str, str], where: str, modules_dir: Path | None = None
) -> Capability:
    """CONFIG_ACPI from the config; without one, from the virtio_mmio module: its ACPI match
    table (alias acpi*:LNRO0005:*, the id microvm announces its devices by) is compiled only
    under CONFIG_ACPI, and a module is built with its kernel's config."""
    value = config.get("CONFIG_ACPI")
    if value == "y":
        return Capability("y", f"CONFIG_ACPI=y in {where}")
    if value is not None:
        return Capability("n", f"CONFIG_ACPI={value} in {where}")
    if where:
        return Capability("n", f"CONFIG_ACPI is not in {where}")
    for module in _module_files(modules_dir, "virtio_mmio")[:1]:
        try:
            data = read_module(module)
        except (InfraError, OSError, ValueError, subprocess.CalledProcessError):
            break
        if ACPI_MATCH in data:
            return Capability("y", f"{module.name} has the ACPI match LNRO0005 (CONFIG_ACPI)")
        return Capability("n", f"{module.name} has no ACPI match: built without CONFIG_ACPI")
    return Capability("unknown", "no kernel config or virtio_mmio module tells whether it has ACPI")


def pvh_capability(vmlinux: Vmlinux | None, error: str = "") -> Capability:
    if vmlinux is None:
        return Capability("unknown", f"no ELF vmlinux could be extracted from the image: {error}")
    if vmlinux.pvh_entry is None:
        return Capability("n", "the vmlinux has no PVH entry note (Xen, XEN_ELFNOTE_PHYS32_ENTRY)")
    return Capability(
        "y", f"PVH entry {vmlinux.pvh_entry:#x} in the vmlinux ({vmlinux.compression} payload)"
    )


def kernel_caps(kernel: Kernel, cache: Path) -> KernelCaps:
    """Extract the vmlinux (cached by the image's content) and read what the kernel has."""
    vmlinux: Vmlinux | None = None
    error = ""
    try:
        vmlinux = extract_vmlinux(kernel.image, cache)
    except InfraError as e:
        error = str(e)
    elf = vmlinux.path if vmlinux is not None else None
    config, where = read_kernel_config(kernel, elf)
    return KernelCaps(
        pvh=pvh_capability(vmlinux, error),
        virtio_mmio=virtio_mmio_capability(config, where, kernel.modules_dir),
        acpi=acpi_capability(config, where, kernel.modules_dir),
        vmlinux=elf if vmlinux is not None and vmlinux.pvh else None,
        config=where,
    )


# -- the decision -------------------------------------------------------------------------


def choose_machine(
    caps: KernelCaps, bzimage: Path, requested: Requested = "auto", failed_before: str | None = None
) -> MachineChoice:
    """microvm when the kernel has PVH, virtio-mmio and ACPI and no earlier microvm boot of
    it failed, else pc; the reason says which facts decided.  @requested "microvm" or "pc"
    forces one (a forced microvm without PVH boots the bzImage, which microvm also can, more
    slowly)."""
    if requested == "pc":
        return MachineChoice("pc", "-M pc: forced by --machine pc", bzimage, PC_MODULES)
    if requested == "microvm":
        if caps.vmlinux is not None:
            return MachineChoice("microvm", "-M microvm: forced by --machine microvm (PVH vmlinux)",
                                 caps.vmlinux, MICROVM_MODULES)  # fmt: skip
        return MachineChoice("microvm", "-M microvm: forced by --machine microvm (bzImage: no PVH)",
                             bzimage, MICROVM_MODULES)  # fmt: skip
    checks = (
        ("PVH", caps.pvh, caps.pvh.value == "y" and caps.vmlinux is not None),
        ("virtio-mmio", caps.virtio_mmio, caps.virtio_mmio.value in ("y", "m")),
        ("ACPI", caps.acpi, caps.acpi.value == "y"),
    )
    missing = [f"no {label}: {cap.why}" for label, cap, ok in checks if not ok]
    if failed_before:
        missing.append(f"a microvm boot of this image failed before: {failed_before}")
    if missing or caps.vmlinux is None:
        return MachineChoice("pc", "-M pc: " + "; ".join(missing), bzimage, PC_MODULES)
    reason = "; ".join(cap.why for _label, cap, _ok in checks)
    return MachineChoice("microvm", f"-M microvm: {reason}", caps.vmlinux, MICROVM_MODULES)


# -- the boot proves it -------------------------------------------------------------------


def boot_verdict(swap_wanted: bool, swap_kb: int, swap_error: str) -> str | None:
    """None when a microvm guest came up as it must (its swap disk seen and on), else what
    went wrong: the orchestrator then boots this kernel with -M pc and says why."""
    if swap_wanted and swap_error != "none":
        return f"the microvm guest could not use its virtio-mmio swap disk ({swap_error})"
    if swap_wanted and swap_kb <= 0:
        return "the microvm guest has no swap"
    return None


def _verdict_file(cache: Path, image_sha256: str) -> Path:
    return cache / "machine" / f"{image_sha256[:24]}.json"


def remember_failure(cache: Path, image_sha256: str, failure: str) -> None:
    """Keep, for this host boot, that a microvm boot of this kernel (by its image's content)
    failed where -M pc then booted: the next run boots it on pc at once."""
    record = {"boot_id": host_boot_id(), "machine": "microvm", "failure": failure}
    atomic_write_text(_verdict_file(cache, image_sha256), json.dumps(record) + "\n")


def proven_failure(cache: Path, image_sha256: str) -> str | None:
    """The failure a microvm boot of this kernel showed earlier in this host boot, if any.
    A verdict of an earlier host boot is not trusted (QEMU or the host may have changed)."""
    try:
        record = json.loads(_verdict_file(cache, image_sha256).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("boot_id") != host_boot_id():
        return None
    if record.get("machine") == "microvm" and record.get("failure"):
        return str(record["failure"])
    return None
