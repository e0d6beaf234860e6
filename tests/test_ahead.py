"""Boot ahead (orchestrator/ahead.py): when a command's first guest is started before the
plan, and when it is adopted, discarded or never started."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import ahead
from orchestrator.boot import QemuGuest
from orchestrator.qemu import VmConfig


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RESIDENCY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    ahead._argv = None
    yield tmp_path / "cache" / "ahead"
    ahead.discard()
    ahead._argv = None


def files(tmp_path: Path) -> tuple[Path, Path]:
    image, initramfs = tmp_path / "vmlinux", tmp_path / "initramfs.cpio"
    image.write_bytes(b"kernel")
    initramfs.write_bytes(b"cpio")
    return image, initramfs


def guest(tmp_path: Path, cfg: VmConfig | None = None) -> QemuGuest:
    image, initramfs = files(tmp_path)
    return QemuGuest(cfg or VmConfig(), image, initramfs, tmp_path / "c.log", machine="microvm")


def test_a_first_guest_is_remembered_per_command_and_directory(tmp_path: Path, store: Path) -> None:
    ahead.start(["-k", "shmem_lseek"])  # nothing recorded yet: nothing started
    assert ahead._guest is None
    ahead.remember(guest(tmp_path))
    [path] = store.glob("*.json")
    record = json.loads(path.read_text())
    assert record["argv"] == ["-k", "shmem_lseek"]
    assert record["machine"] == "microvm"
    assert record["cfg"] == {
        "memory_mb": 256, "swap_mb": 512, "smp": 2, "accel": "tcg", "boot_timeout": 120.0,
        "qemu": "qemu-system-x86_64", "tsc_khz": None, "lean": False,
    }  # fmt: skip
    assert set(record["files"]) == {str(tmp_path / "vmlinux"), str(tmp_path / "initramfs.cpio")}
    # Another command line, another directory: other records.
    ahead._argv = ["-k", "shmem_punch"]
    ahead.remember(guest(tmp_path))
    os.chdir(tmp_path / "cache")
    ahead._argv = ["-k", "shmem_punch"]
    ahead.remember(guest(tmp_path))
    assert len(list(store.glob("*.json"))) == 3


def test_a_process_that_was_not_started_as_a_command_records_nothing(
    tmp_path: Path, store: Path
) -> None:
    ahead.remember(guest(tmp_path))  # a Lab under the project's own tests
    assert not store.exists()


@pytest.mark.parametrize(
    "argv", [["--help"], ["--collect-only"], ["-n", "2"], ["-n2"], ["--numprocesses=2"]]
)
def test_commands_that_boot_nothing_here_start_nothing(argv: list[str], tmp_path: Path) -> None:
    ahead.start(argv)
    assert ahead._argv is None
    ahead.remember(guest(tmp_path))
    assert not (tmp_path / "cache" / "ahead").exists()


def test_a_changed_file_or_another_host_boot_starts_nothing(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["-k", "shmem_lseek"]
    ahead.start(argv)
    ahead.remember(guest(tmp_path))
    started: list[QemuGuest] = []
    monkeypatch.setattr(QemuGuest, "start", lambda self: started.append(self))
    ahead.start(argv)
    assert len(started) == 1  # unchanged: started
    ahead._guest = None
    (tmp_path / "initramfs.cpio").write_bytes(b"another cpio")
    ahead.start(argv)
    assert len(started) == 1  # a rebuilt image: not started
    ahead.remember(guest(tmp_path))
    monkeypatch.setattr(ahead, "_boot_id", lambda: "another boot")
    ahead.start(argv)
    assert len(started) == 1  # the accelerator and TSC probes were for another host boot


def test_only_exactly_the_guest_booted_ahead_is_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed: list[QemuGuest] = []
    monkeypatch.setattr(QemuGuest, "kill", lambda self: killed.append(self))
    monkeypatch.setattr(QemuGuest, "alive", property(lambda self: True))
    moved: list[Path] = []
    monkeypatch.setattr(QemuGuest, "move_log", lambda self, path: moved.append(path))
    early = guest(tmp_path)
    image, initramfs = early.image, early.initramfs
    log = tmp_path / "run" / "console.log"

    monkeypatch.setattr(ahead, "_guest", early)
    monkeypatch.setattr(ahead, "_files", {str(image): ahead._identity(str(image))})
    other = VmConfig(memory_mb=128)
    early.console_log.write_text("the boot of a guest nobody wants\n")
    assert ahead.adopt(other, "microvm", image, initramfs, "", log) is None
    assert killed == [early] and ahead._guest is None  # discarded: the run boots its own
    assert not early.console_log.exists()  # and its console log with it

    killed.clear()
    monkeypatch.setattr(ahead, "_guest", early)
    image.write_bytes(b"a kernel rebuilt since")
    assert ahead.adopt(VmConfig(), "microvm", image, initramfs, "", log) is None
    assert killed == [early]

    killed.clear()
    monkeypatch.setattr(ahead, "_guest", early)
    monkeypatch.setattr(ahead, "_files", {str(image): ahead._identity(str(image))})
    assert ahead.adopt(VmConfig(), "microvm", image, initramfs, "", log) is early
    assert moved == [log] and not killed and early.booted_ahead
    assert ahead.adopt(VmConfig(), "microvm", image, initramfs, "", log) is None  # once only
