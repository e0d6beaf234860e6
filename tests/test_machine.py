"""machine: what a kernel offers microvm, the choice between microvm and pc, the command lines."""

from __future__ import annotations

import gzip
import lzma
from dataclasses import replace
from pathlib import Path

import pytest
from test_vmlinux import ELF, PVH_NOTES, fake_bzimage, fake_elf

import orchestrator.machine as machine
from orchestrator.kernel import ImageSource, Kernel
from orchestrator.machine import (
    MICROVM_MODULES,
    PC_MODULES,
    Capability,
    KernelCaps,
    acpi_capability,
    boot_verdict,
    choose_machine,
    embedded_config,
    kernel_caps,
    parse_config,
    proven_failure,
    remember_failure,
    virtio_mmio_capability,
)
from orchestrator.plan import plan_machine
from orchestrator.qemu import VmConfig, guest_command, microvm_command, qemu_command

BZ = Path("/k/bzImage")
VMLINUX = Path("/cache/vmlinux/abc/vmlinux")
YES = Capability("y", "yes")


def caps(pvh: str = "y", mmio: str = "m", acpi: str = "y") -> KernelCaps:
    return KernelCaps(
        pvh=Capability(pvh, f"pvh={pvh}"),  # type: ignore[arg-type]
        virtio_mmio=Capability(mmio, f"mmio={mmio}"),  # type: ignore[arg-type]
        acpi=Capability(acpi, f"acpi={acpi}"),  # type: ignore[arg-type]
        vmlinux=VMLINUX if pvh == "y" else None,
        config="/k/config",
    )


def test_parse_config() -> None:
    text = 'CONFIG_ACPI=y\n# CONFIG_PVH is not set\nCONFIG_VIRTIO_MMIO=m\nCONFIG_X="a b"\n'
    assert parse_config(text) == {
        "CONFIG_ACPI": "y", "CONFIG_PVH": "n", "CONFIG_VIRTIO_MMIO": "m", "CONFIG_X": "a b",
    }  # fmt: skip


def test_virtio_mmio_from_config_and_modules(tmp_path: Path) -> None:
    mods = tmp_path / "lib/modules/6.1.0"
    (mods / "kernel/drivers/virtio").mkdir(parents=True)
    assert virtio_mmio_capability({"CONFIG_VIRTIO_MMIO": "y"}, "cfg", None).value == "y"
    assert virtio_mmio_capability({"CONFIG_VIRTIO_MMIO": "m"}, "cfg", mods).value == "n"
    (mods / "kernel/drivers/virtio/virtio_mmio.ko.xz").write_bytes(b"")
    assert virtio_mmio_capability({"CONFIG_VIRTIO_MMIO": "m"}, "cfg", mods).value == "m"
    assert virtio_mmio_capability({"CONFIG_VIRTIO_MMIO": "n"}, "cfg", mods).value == "n"
    # No config: the modules tell.
    assert virtio_mmio_capability({}, "", mods).value == "m"
    (mods / "kernel/drivers/virtio/virtio_mmio.ko.xz").unlink()
    assert virtio_mmio_capability({}, "", mods).value == "unknown"
    (mods / "modules.builtin").write_text("kernel/drivers/virtio/virtio_mmio.ko\n")
    assert virtio_mmio_capability({}, "", mods).value == "y"
    (mods / "modules.builtin").write_text("kernel/drivers/virtio/virtio.ko\n")
    assert virtio_mmio_capability({}, "", mods).value == "n"
    assert virtio_mmio_capability({}, "", None).value == "unknown"


def test_acpi_from_config() -> None:
    assert acpi_capability({"CONFIG_ACPI": "y"}, "cfg").value == "y"
    assert acpi_capability({"CONFIG_ACPI": "n"}, "cfg").value == "n"
    assert acpi_capability({"CONFIG_PVH": "y"}, "cfg").value == "n"  # a config without it
    assert acpi_capability({}, "").value == "unknown"  # no config: not guessed


def test_acpi_from_the_virtio_mmio_module(tmp_path: Path) -> None:
    """Debian 7.x packages ship no config: virtio_mmio's ACPI match table tells."""
    mods = tmp_path / "modules"
    (mods / "kernel/drivers/virtio").mkdir(parents=True)
    module = mods / "kernel/drivers/virtio/virtio_mmio.ko.xz"
    assert acpi_capability({}, "", mods).value == "unknown"
    modinfo = b"\0alias=of:N*T*Cvirtio,mmio\0alias=acpi*:LNRO0005:*\0depends=\0"
    module.write_bytes(lzma.compress(b"\x7fELF" + modinfo))
    found = acpi_capability({}, "", mods)
    assert found.value == "y" and "LNRO0005" in found.why
    module.write_bytes(lzma.compress(b"\x7fELF\0alias=of:N*T*Cvirtio,mmio\0"))
    assert acpi_capability({}, "", mods).value == "n"
    # A config, when there is one, decides.
    assert acpi_capability({"CONFIG_ACPI": "n"}, "cfg", mods).value == "n"


def test_microvm_when_everything_is_there() -> None:
    choice = choose_machine(caps(), BZ)
    assert choice.machine == "microvm"
    assert choice.kernel_image == VMLINUX
    assert choice.modules == MICROVM_MODULES
    assert "pvh=y" in choice.reason and "mmio=m" in choice.reason and "acpi=y" in choice.reason
    assert choose_machine(caps(mmio="y"), BZ).machine == "microvm"


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"pvh": "n"}, "no PVH: pvh=n"),
        ({"pvh": "unknown"}, "no PVH: pvh=unknown"),
        ({"mmio": "n"}, "no virtio-mmio: mmio=n"),
        ({"mmio": "unknown"}, "no virtio-mmio: mmio=unknown"),
        ({"acpi": "n"}, "no ACPI: acpi=n"),
        ({"acpi": "unknown"}, "no ACPI: acpi=unknown"),
    ],
)
def test_pc_when_something_lacks(kw: dict[str, str], why: str) -> None:
    choice = choose_machine(caps(**kw), BZ)
    assert choice.machine == "pc"
    assert choice.kernel_image == BZ
    assert choice.modules == PC_MODULES
    assert why in choice.reason


def test_a_failed_microvm_boot_is_remembered_for_the_host_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = "ab" * 32
    assert proven_failure(tmp_path, sha) is None
    failure = boot_verdict(True, 0, "no-dev-vda")
    assert failure is not None and "no-dev-vda" in failure
    remember_failure(tmp_path, sha, failure)
    assert proven_failure(tmp_path, sha) == failure
    assert proven_failure(tmp_path, "cd" * 32) is None, "per kernel"
    choice = choose_machine(caps(), BZ, failed_before=proven_failure(tmp_path, sha))
    assert choice.machine == "pc" and "failed before" in choice.reason
    assert boot_verdict(True, 524284, "none") is None
    assert boot_verdict(False, 0, "none") is None
    # After a reboot of the host the verdict is not trusted: microvm is tried again.
    monkeypatch.setattr(machine, "host_boot_id", lambda: "another-boot")
    assert proven_failure(tmp_path, sha) is None


def test_forcing() -> None:
    assert choose_machine(caps(), BZ, "pc").machine == "pc"
    assert choose_machine(caps(), BZ, "pc").kernel_image == BZ
    forced = choose_machine(caps(pvh="n", acpi="n"), BZ, "microvm")
    assert forced.machine == "microvm" and forced.kernel_image == BZ
    assert choose_machine(caps(acpi="n"), BZ, "microvm").kernel_image == VMLINUX


def test_microvm_command_tcg() -> None:
    cmd = microvm_command(VmConfig(), VMLINUX, Path("/i.cpio"), Path("/swap.img"), tsc_khz=2596130)
    assert cmd == [
        "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-M", "microvm,pit=on,pic=on,rtc=on", "-accel", "tcg", "-m", "256M",
        "-smp", "2", "-kernel", str(VMLINUX), "-initrd", "/i.cpio",
        "-append", "console=ttyS0 panic=-1 loglevel=4 rdinit=/init 8250.nr_uarts=1 "
        "cryptomgr.notests pci=off tsc_early_khz=2596130",
        "-chardev", "stdio,id=console,signal=off,mux=on", "-serial", "chardev:console",
        "-mon", "chardev=console,mode=readline",
        "-drive", "file=/swap.img,format=raw,if=none,id=swap,cache=unsafe",
        "-device", "virtio-blk-device,drive=swap",
    ]  # fmt: skip


def test_a_lean_guest_gets_a_small_translation_cache_under_tcg_only() -> None:
    lean = VmConfig(memory_mb=128, lean=True)
    cmd = microvm_command(lean, VMLINUX, Path("/i.cpio"), None, tsc_khz=2596130)
    assert cmd[cmd.index("-accel") + 1] == "tcg,tb-size=16"
    assert cmd[cmd.index("-m") + 1] == "128M"
    cmd = qemu_command(replace(lean, accel="kvm"), BZ, Path("/i.cpio"), None)
    assert cmd[cmd.index("-accel") + 1] == "kvm"


def test_microvm_command_kvm() -> None:
    cfg = VmConfig(accel="kvm", memory_mb=512, smp=1)
    cmd = microvm_command(cfg, VMLINUX, Path("/i.cpio"), None, tsc_khz=None, append="x=1")
    assert cmd[cmd.index("-accel") + 1] == "kvm"
    assert cmd[cmd.index("-cpu") + 1] == "host"
    append = cmd[cmd.index("-append") + 1]
    assert "tsc_early_khz" not in append and append.endswith("cryptomgr.notests pci=off x=1")
    assert "-drive" not in cmd and "-device" not in cmd
    assert cmd[cmd.index("-m") + 1] == "512M" and cmd[cmd.index("-smp") + 1] == "1"


def test_microvm_under_tcg_needs_the_tsc_rate() -> None:
    with pytest.raises(ValueError, match="tsc_early_khz"):
        microvm_command(VmConfig(), VMLINUX, Path("/i"), None, tsc_khz=None)


def test_same_console_as_pc() -> None:
    """Everything but the machine, kernel, command line and disk transport is pc's."""
    cfg = VmConfig()
    pc = qemu_command(cfg, BZ, Path("/i"), Path("/s"))
    micro = microvm_command(cfg, VMLINUX, Path("/i"), Path("/s"), tsc_khz=1)
    differs = {"pc", "microvm,pit=on,pic=on,rtc=on", str(BZ), str(VMLINUX),
               "virtio-blk-pci,drive=swap", "virtio-blk-device,drive=swap"}  # fmt: skip
    assert [a for a in pc if a not in differs and not a.startswith("console=")] == [
        a for a in micro if a not in differs and not a.startswith("console=")
    ]


def debian_like(tmp_path: Path, config: str, payload: bytes = ELF) -> Kernel:
    tree = tmp_path / "pkg"
    (tree / "boot").mkdir(parents=True)
    image = tree / "boot/vmlinuz-6.1.0-test"
    image.write_bytes(fake_bzimage(gzip.compress(payload)))
    (tree / "boot/config-6.1.0-test").write_text(config)
    mods = tree / "lib/modules/6.1.0-test"
    (mods / "kernel/drivers/virtio").mkdir(parents=True)
    (mods / "kernel/drivers/virtio/virtio_mmio.ko").write_bytes(b"")
    (mods / "modules.order").write_text("")
    return Kernel("debian-test", image, mods, "6.1.0-test", ImageSource(str(image)))


def test_caps_of_a_debian_like_package(tmp_path: Path) -> None:
    kernel = debian_like(tmp_path, "CONFIG_ACPI=y\nCONFIG_VIRTIO_MMIO=m\nCONFIG_PVH=y\n")
    found = kernel_caps(kernel, tmp_path / "cache")
    assert (found.pvh.value, found.virtio_mmio.value, found.acpi.value) == ("y", "m", "y")
    assert found.config.endswith("boot/config-6.1.0-test")
    assert found.vmlinux is not None and found.vmlinux.read_bytes() == ELF
    assert choose_machine(found, kernel.image).machine == "microvm"


def test_caps_of_a_kernel_without_pvh_or_acpi(tmp_path: Path) -> None:
    kernel = debian_like(tmp_path, "# CONFIG_ACPI is not set\nCONFIG_VIRTIO_MMIO=y\n",
                         payload=fake_elf(b""))  # fmt: skip
    found = kernel_caps(kernel, tmp_path / "cache")
    assert (found.pvh.value, found.virtio_mmio.value, found.acpi.value) == ("n", "y", "n")
    choice = choose_machine(found, kernel.image)
    assert choice.machine == "pc" and "no PVH" in choice.reason and "no ACPI" in choice.reason


def test_unreadable_image_falls_back_to_pc(tmp_path: Path) -> None:
    kernel = debian_like(tmp_path, "CONFIG_ACPI=y\nCONFIG_VIRTIO_MMIO=y\n")
    kernel.image.write_bytes(b"HdrS" * 100)
    found = kernel_caps(kernel, tmp_path / "cache")
    assert found.pvh.value == "unknown" and found.vmlinux is None
    assert choose_machine(found, kernel.image).machine == "pc"


def test_embedded_config(tmp_path: Path) -> None:
    elf = tmp_path / "vmlinux"
    blob = gzip.compress(b"CONFIG_ACPI=y\nCONFIG_VIRTIO_MMIO=y\n")
    elf.write_bytes(fake_elf(PVH_NOTES, b"x" * 100 + b"IKCFG_ST" + blob + b"IKCFG_ED" + b"y"))
    text = embedded_config(elf)
    assert text is not None and parse_config(text)["CONFIG_ACPI"] == "y"
    # A kernel tree-less image with only the embedded config is decided from it.
    kernel = Kernel("k", tmp_path / "bzImage", None, "", ImageSource(str(tmp_path / "bzImage")))
    kernel.image.write_bytes(fake_bzimage(gzip.compress(elf.read_bytes())))
    found = kernel_caps(kernel, tmp_path / "cache")
    assert found.config.endswith("(CONFIG_IKCONFIG)")
    assert choose_machine(found, kernel.image).machine == "microvm"


def test_guest_command_picks_the_machine() -> None:
    """The orchestrator's guest: microvm with the vmlinux and cfg.tsc_khz, pc with the bzImage."""
    cfg = VmConfig(tsc_khz=2596130)
    micro = guest_command(cfg, "microvm", VMLINUX, Path("/i"), Path("/s"), "x=1")
    assert micro == microvm_command(cfg, VMLINUX, Path("/i"), Path("/s"), 2596130, "x=1")
    assert micro[micro.index("-append") + 1].endswith("x=1 tsc_early_khz=2596130")
    pc = guest_command(cfg, "pc", BZ, Path("/i"), Path("/s"), "x=1")
    assert pc == qemu_command(cfg, BZ, Path("/i"), Path("/s"), "x=1")
    assert pc[pc.index("-M") + 1] == "pc" and "tsc_early_khz" not in " ".join(pc)
    assert "virtio-blk-pci,drive=swap" in pc


def test_pc_command_line() -> None:
    cmd = qemu_command(VmConfig(smp=1, accel="kvm"), BZ, Path("/i.cpio"), Path("/swap.img"))
    assert cmd == [
        "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-M", "pc", "-accel", "kvm", "-m", "256M", "-smp", "1",
        "-kernel", str(BZ), "-initrd", "/i.cpio",
        "-append", "console=ttyS0 panic=-1 loglevel=4 rdinit=/init 8250.nr_uarts=1 "
        "cryptomgr.notests",
        "-chardev", "stdio,id=console,signal=off,mux=on", "-serial", "chardev:console",
        "-mon", "chardev=console,mode=readline", "-cpu", "host",
        "-drive", "file=/swap.img,format=raw,if=none,id=swap,cache=unsafe",
        "-device", "virtio-blk-pci,drive=swap",
    ]  # fmt: skip


def test_the_plan_boots_each_kernel_where_it_can(tmp_path: Path) -> None:
    """plan_machine: microvm with the vmlinux for a kernel that has everything, pc when
    forced (the kernel is not even read) or when a microvm boot of it failed on this host
    boot."""
    kernel = debian_like(tmp_path, "CONFIG_ACPI=y\nCONFIG_VIRTIO_MMIO=m\nCONFIG_PVH=y\n")
    cache = tmp_path / "cache"
    auto = plan_machine(kernel, "auto", cache)
    assert auto.machine == "microvm" and auto.kernel_file.endswith("/vmlinux")
    assert auto.machine_why.startswith("-M microvm: PVH entry")
    forced = plan_machine(kernel, "pc", tmp_path / "other-cache")
    assert (forced.machine, forced.kernel_file) == ("pc", str(kernel.image))
    assert not (tmp_path / "other-cache").exists(), "no vmlinux extracted for a forced pc"
    remember_failure(cache, auto.identity.image_sha256, "no-dev-vda")
    again = plan_machine(kernel, "auto", cache)
    assert again.machine == "pc" and "failed before: no-dev-vda" in again.machine_why
    assert plan_machine(kernel, "microvm", cache).machine == "microvm", "forcing wins"
    fallback = replace(auto, pc_initramfs="/pc.cpio").on_pc("why")
    assert (fallback.machine, fallback.kernel_file, fallback.initramfs) == (
        "pc", str(kernel.image), "/pc.cpio",
    )  # fmt: skip
