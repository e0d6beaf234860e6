"""The initramfs writer and the module resolver, on files made here."""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator import build as build_mod
from orchestrator.errors import InfraError
from orchestrator.image import (
    CpioWriter,
    _is_static_elf,
    build_initramfs,
    prune,
    resolve_modules,
)
from orchestrator.kernel import ImageSource, Kernel
from orchestrator.swap import write_swap_image


def read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """An independent reader of the newc format, to check the writer."""
    entries: dict[str, tuple[int, bytes]] = {}
    pos = 0
    while True:
        assert data[pos : pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body = (name_start + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data[body : body + size])
        pos = (body + size + 3) & ~3


def test_cpio_roundtrip() -> None:
    cpio = CpioWriter()
    cpio.dir("bin")
    cpio.file("bin/x", b"hello", 0o755)
    cpio.char_device("dev/console", 5, 1)
    data = cpio.finish()
    assert len(data) % 512 == 0
    entries = read_newc(data)
    assert entries["bin/x"] == (0o100755, b"hello")
    assert entries["bin"][0] == 0o40755
    assert entries["dev/console"][0] == 0o20600


def fake_module(path: Path, depends: str, compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"\x7fELF....\0license=GPL\0depends=" + depends.encode() + b"\0name=x\0"
    path.write_bytes(lzma.compress(body) if compress else body)


def test_modules_are_ordered_dependencies_first(tmp_path: Path) -> None:
    d = tmp_path / "6.1.0-test"
    fake_module(d / "kernel/drivers/virtio/virtio.ko", "")
    fake_module(d / "kernel/drivers/virtio/virtio_ring.ko.xz", "virtio", compress=True)
    fake_module(d / "kernel/drivers/block/virtio_blk.ko", "virtio,virtio_ring")
    fake_module(d / "kernel/drivers/virtio/virtio_pci.ko", "virtio_ring,virtio")
    (d / "modules.order").write_text("")
    names = [p.name for p in resolve_modules(d)]
    assert names == ["virtio.ko", "virtio_ring.ko.xz", "virtio_blk.ko", "virtio_pci.ko"]


def test_builtin_modules_are_skipped(tmp_path: Path) -> None:
    d = tmp_path / "m"
    fake_module(d / "kernel/drivers/block/virtio_blk.ko", "virtio")
    (d / "modules.builtin").write_text("kernel/drivers/virtio/virtio.ko\n"
                                       "kernel/drivers/virtio/virtio_pci.ko\n")  # fmt: skip
    assert [p.name for p in resolve_modules(d)] == ["virtio_blk.ko"]


def test_missing_module_names_the_fix(tmp_path: Path) -> None:
    d = tmp_path / "m"
    fake_module(d / "kernel/drivers/block/virtio_blk.ko", "virtio")
    (d / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\n")
    with pytest.raises(InfraError) as err:
        resolve_modules(d)
    assert "virtio" in err.value.cause
    assert "CONFIG_VIRTIO_BLK=y" in err.value.fix


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox is not installed")
def test_static_elf_detection() -> None:
    assert not _is_static_elf(Path("/bin/sh").resolve())


def test_swap_signature_matches_mkswap(tmp_path: Path) -> None:
    path = tmp_path / "swap.img"
    write_swap_image(path, 64)
    data = path.read_bytes()
    assert len(data) == 64 * 1024 * 1024
    assert data[4096 - 10 : 4096] == b"SWAPSPACE2"
    assert int.from_bytes(data[1024:1028], "little") == 1  # version
    assert int.from_bytes(data[1028:1032], "little") == 64 * 256 - 1  # last page
    blkid = shutil.which("blkid")
    if blkid:
        out = subprocess.run([blkid, "-o", "value", "-s", "TYPE", str(path)], capture_output=True)
        assert out.stdout.strip() == b"swap"


def test_without_a_builtin_list_absent_modules_are_taken_as_built_in(tmp_path: Path) -> None:
    # Debian 7.x module packages ship no modules.builtin; virtio and virtio_pci are built in.
    d = tmp_path / "7.3-cloud-amd64"
    fake_module(d / "kernel/drivers/block/virtio_blk.ko.xz", "virtio,virtio_ring", compress=True)
    assert [p.name for p in resolve_modules(d)] == ["virtio_blk.ko.xz"]


def test_the_guest_image_holds_only_the_programs_asked_for(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    for name in ("a", "b", "c"):
        (tests / name).write_bytes(name.encode())
        (tests / name).chmod(0o755)
    (tests / "settings").write_text("timeout=180\n")
    build = build_mod.TestBuild(tests, ("a", "b", "c"), 180, "digest", built_now=False)
    kernel = Kernel("k", tmp_path / "bzImage", None, "v", ImageSource(str(tmp_path)))
    init = tmp_path / "init"
    init.write_text("#!/bin/sh\n")
    every = build_initramfs(kernel, build, init, tmp_path / "cache", swap=True)
    some = build_initramfs(kernel, build, init, tmp_path / "cache", True, (), ("b",))
    assert some.initramfs != every.initramfs  # another content, another cache key
    assert {n for n in read_newc(every.initramfs.read_bytes()) if n.startswith("tests/")} == {
        "tests/a", "tests/b", "tests/c", "tests/settings"
    }  # fmt: skip
    entries = read_newc(some.initramfs.read_bytes())
    assert {n for n in entries if n.startswith("tests/")} == {"tests/b", "tests/settings"}
    assert entries["tests/b"] == (0o100755, b"b")


def test_old_guest_images_are_pruned_least_recently_used_first(tmp_path: Path) -> None:
    now = time.time()
    ages = {"a": 9000, "b": 8000, "c": 7000, "d": 10, "e": 5, "f": 1}  # seconds since used
    for name, age in ages.items():
        (tmp_path / f"{name}.cpio").write_bytes(b"x")
        os.utime(tmp_path / f"{name}.cpio", (now - age, now - age))
    (tmp_path / "notes.txt").write_text("not an image")
    # Keep 2: f and e; d is beyond them but used within the grace: kept too.
    assert prune(tmp_path, keep=2, grace=3600) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.cpio", "e.cpio", "f.cpio", "notes.txt"]
    assert prune(tmp_path, keep=2, grace=3600) == 0
    # A reuse sets the access time only: "a" is kept over "d" now.
    (tmp_path / "a.cpio").write_bytes(b"x")
    os.utime(tmp_path / "a.cpio", (now, now - 9000))
    os.utime(tmp_path / "d.cpio", (now - 9000, now - 9000))
    assert prune(tmp_path, keep=3, grace=3600) == 1
    assert sorted(p.name for p in tmp_path.glob("*.cpio")) == ["a.cpio", "e.cpio", "f.cpio"]
