"""Boot ahead (orchestrator/ahead.py): when a command's first guest is started before the
plan, and when it is adopted, discarded or never started."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator import ahead
from orchestrator.boot import QemuGuest
from orchestrator.launch import Launch, launch
from orchestrator.qemu import VmConfig


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RESIDENCY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    ahead._argv = None
    ahead._started = None
    yield tmp_path / "cache" / "ahead"
    ahead.discard()
    ahead._argv = None


def files(tmp_path: Path) -> tuple[Path, Path]:
    image, initramfs = tmp_path / "bzImage", tmp_path / "initramfs.cpio"
    image.write_bytes(b"kernel")
    initramfs.write_bytes(b"cpio")
    return image, initramfs


def fake_qemu(tmp_path: Path) -> str:
    """A real process on a real pty in QEMU's place: it takes any options and waits."""
    script = tmp_path / "qemu-system-x86_64"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    return str(script)


def guest(tmp_path: Path, cfg: VmConfig | None = None) -> QemuGuest:
    image, initramfs = files(tmp_path)
    cfg = cfg or VmConfig(qemu=fake_qemu(tmp_path), swap_mb=1)
    return QemuGuest(cfg, image, initramfs, tmp_path / "c.log")


def started(tmp_path: Path) -> QemuGuest:
    g = guest(tmp_path)
    g.start()
    return g


def remembered(tmp_path: Path) -> QemuGuest:
    """A guest started, offered to ahead.remember() as a run's first guest, and ended."""
    g = started(tmp_path)
    ahead.remember(g)
    g.kill()
    return g


def test_a_first_guest_is_remembered_per_command_and_directory(tmp_path: Path, store: Path) -> None:
    ahead.start(["-k", "shmem_lseek"])  # nothing recorded yet: nothing started
    assert ahead._started is None
    first = started(tmp_path)
    ahead.remember(first)
    [path] = store.glob("*.json")
    record = json.loads(path.read_text())
    assert record["argv"] == ["-k", "shmem_lseek"]
    # Its QEMU command, with a placeholder for its scratch directory.
    assert record["command"] == [
        a.replace(str(first.workdir), ahead.WORKDIR) for a in first.command
    ]  # fmt: skip
    assert (
        f"file={ahead.WORKDIR}/swap.img,format=raw,if=none,id=swap,cache=unsafe"
        in (record["command"])
    )
    assert (record["swap_mb"], record["lean"]) == (1, False)
    assert set(record["files"]) == {str(tmp_path / "bzImage"), str(tmp_path / "initramfs.cpio")}
    first.kill()
    # Another command line, another directory: other records.
    ahead._argv = ["-k", "shmem_punch"]
    second = started(tmp_path)
    ahead.remember(second)
    os.chdir(tmp_path / "cache")
    ahead.remember(second)
    second.kill()
    assert len(list(store.glob("*.json"))) == 3


def test_a_process_that_was_not_started_as_a_command_records_nothing(
    tmp_path: Path, store: Path
) -> None:
    remembered(tmp_path)  # a Lab under the project's own tests
    assert not store.exists()


@pytest.mark.parametrize(
    "argv", [["--help"], ["--collect-only"], ["-n", "2"], ["-n2"], ["--numprocesses=2"]]
)
def test_commands_that_boot_nothing_here_start_nothing(argv: list[str], tmp_path: Path) -> None:
    ahead.start(argv)
    assert ahead._argv is None
    remembered(tmp_path)
    assert not (tmp_path / "cache" / "ahead").exists()


def test_a_changed_file_or_another_host_boot_starts_nothing(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["-k", "shmem_lseek"]
    ahead.start(argv)
    remembered(tmp_path)
    launched: list[list[str]] = []

    def counting(command: list[str], *args: Any) -> Launch:
        launched.append(command)
        return launch(command, *args)

    monkeypatch.setattr("orchestrator.ahead.launch", counting)
    ahead.start(argv)
    assert len(launched) == 1  # unchanged: started
    assert ahead._started is not None and ahead._started.proc.isalive()
    workdir = ahead._started.workdir
    assert (workdir / "swap.img").stat().st_size == 1 << 20  # a fresh swap disk of its own
    assert f"file={workdir}/swap.img,format=raw,if=none,id=swap,cache=unsafe" in launched[0]
    ahead.discard()
    assert not workdir.exists()
    (tmp_path / "initramfs.cpio").write_bytes(b"another cpio")
    ahead.start(argv)
    assert len(launched) == 1  # a rebuilt image: not started
    remembered(tmp_path)
    monkeypatch.setattr(ahead, "_boot_id", lambda: "another boot")
    ahead.start(argv)
    assert len(launched) == 1  # the accelerator and TSC probes were for another host boot


def test_only_exactly_the_guest_booted_ahead_is_adopted(tmp_path: Path, store: Path) -> None:
    argv = ["-k", "shmem_lseek"]
    ahead.start(argv)
    first = remembered(tmp_path)
    cfg, image, initramfs = first.cfg, first.image, first.initramfs
    log = tmp_path / "run" / "console.log"

    # Another guest (other VM settings): discarded, the run boots its own.
    ahead.start(argv)
    early = ahead._started
    assert early is not None and early.proc.isalive()
    early.log.write("the boot of a guest nobody wants\n")
    other = replace(cfg, memory_mb=128)
    assert ahead.adopt(other, "pc", image, initramfs, "", log) is None
    assert not early.proc.isalive() and ahead._started is None
    assert not early.log_path.exists()  # and its console log with it
    assert not early.workdir.exists()

    # A boot file rebuilt since it started: discarded.
    ahead.start(argv)
    early = ahead._started
    assert early is not None
    image.write_bytes(b"a kernel rebuilt since")
    assert ahead.adopt(cfg, "pc", image, initramfs, "", log) is None
    assert not early.proc.isalive()

    # Exactly it: adopted, once, its console log moved into the run.
    remembered(tmp_path)
    ahead.start(argv)
    early = ahead._started
    assert early is not None
    adopted = ahead.adopt(cfg, "pc", image, initramfs, "", log)
    assert adopted is not None and adopted.booted_ahead and adopted.alive
    assert adopted.console_log == log and log.read_text().startswith("# ")
    assert not early.log_path.exists()
    assert ahead.adopt(cfg, "pc", image, initramfs, "", log) is None  # once only
    adopted.kill()
    assert not early.workdir.exists()


def test_a_recorded_command_that_cannot_start_leaves_nothing(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["-k", "shmem_lseek"]
    ahead.start(argv)
    g = remembered(tmp_path)
    Path(g.cfg.qemu).unlink()  # QEMU uninstalled since
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    ahead.start(argv)
    assert ahead._started is None
    assert not list(store.glob("*.console.log"))  # no console log
    assert not list(scratch.iterdir())  # no scratch directory, no swap disk
