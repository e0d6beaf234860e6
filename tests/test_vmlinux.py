"""vmlinux: the ELF kernel found in a bzImage by its compression magic, its PVH note."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import InfraError
from orchestrator.vmlinux import elf_complete, extract_elf, extract_vmlinux, pvh_entry


def note(name: bytes, ntype: int, desc: bytes) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4)

    return struct.pack("<III", len(name) + 1, len(desc), ntype) + pad(name + b"\0") + pad(desc)


def fake_elf(notes: bytes, body: bytes = b"kernel text " * 500) -> bytes:
    """A 64-bit ELF with one PT_NOTE segment and one PT_LOAD covering @body."""
    phoff, phnum = 64, 2
    notes_off = phoff + phnum * 56
    body_off = notes_off + len(notes)
    header = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, phoff, 0, 0, 64, 56, phnum,
                          64, 0, 0)  # fmt: skip
    ph_note = struct.pack("<IIQQQQQQ", 4, 4, notes_off, 0, 0, len(notes), len(notes), 4)
    ph_load = struct.pack("<IIQQQQQQ", 1, 5, body_off, 0, 0, len(body), len(body), 4096)
    return header + ph_note + ph_load + notes + body


PVH_NOTES = note(b"GNU", 3, b"build-id") + note(b"Xen", 18, struct.pack("<Q", 0x1000850))


def fake_bzimage(payload: bytes, with_header: bool = True) -> bytes:
    """Setup sectors with a 2.15 header pointing at @payload, some code before it and the
    kernel's 4-byte size after it, as arch/x86/boot/compressed lays it out."""
    setup = bytearray(5 * 512)
    setup[0x1F1] = 4
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x20F if with_header else 0x206)
    prefix = b"\x90" * 300 + b"BZh-not-really" + b"\x1f\x8b\x08 junk"
    struct.pack_into("<II", setup, 0x248, len(prefix), len(payload))
    return bytes(setup) + prefix + payload + struct.pack("<I", 123456) + b"\0" * 64


ELF = fake_elf(PVH_NOTES)
PYTHON_FORMATS = {
    "gzip": lambda b: gzip.compress(b),
    "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    # The kernel's lzma -9: a 64 MiB dictionary, so the header starts 5d 00 00 00.
    "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE, preset=9),
    "bzip2": lambda b: bz2.compress(b),
}


@pytest.mark.parametrize("fmt", sorted(PYTHON_FORMATS))
@pytest.mark.parametrize("with_header", [True, False])
def test_python_formats_are_found_and_decompressed(fmt: str, with_header: bool) -> None:
    image = fake_bzimage(PYTHON_FORMATS[fmt](ELF), with_header)
    data, found, offset = extract_elf(image)
    assert data == ELF
    assert found == fmt
    assert image[offset : offset + 2] == PYTHON_FORMATS[fmt](ELF)[:2]


def tool_compress(tool: str, args: list[str], data: bytes) -> bytes:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    return subprocess.run([tool, *args], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize(("tool", "args"), [("lz4", ["-l", "-c"]), ("zstd", ["-c", "-q"])])
def test_tool_formats_are_found_and_decompressed(tool: str, args: list[str]) -> None:
    # lz4 -l writes the legacy frame the kernel's own compression uses.
    image = fake_bzimage(tool_compress(tool, args, ELF))
    data, found, _ = extract_elf(image)
    assert data == ELF
    assert found == tool


def test_truncated_payload_is_not_an_elf() -> None:
    compressed = gzip.compress(ELF)
    image = fake_bzimage(compressed[: len(compressed) // 2])
    with pytest.raises(InfraError, match="no compressed ELF kernel"):
        extract_elf(image)


def test_missing_tool_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    image = fake_bzimage(b"\x02\x21\x4c\x18" + b"\0" * 100)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InfraError, match="lz4") as info:
        extract_elf(image)
    assert info.value.fix == "apt-get install lz4"


def test_elf_complete_rejects_short_segments() -> None:
    assert elf_complete(ELF)
    assert not elf_complete(ELF[:-10])
    assert not elf_complete(b"\x7fELF")
    assert not elf_complete(b"MZ" + ELF[2:])


def test_pvh_note(tmp_path: Path) -> None:
    with_pvh = tmp_path / "pvh"
    with_pvh.write_bytes(ELF)
    assert pvh_entry(with_pvh) == 0x1000850
    without = tmp_path / "nopvh"
    without.write_bytes(fake_elf(note(b"GNU", 3, b"build-id") + note(b"Xen", 17, b"\0" * 8)))
    assert pvh_entry(without) is None
    not_elf = tmp_path / "text"
    not_elf.write_bytes(b"hello" * 100)
    assert pvh_entry(not_elf) is None


def test_cached_by_content(tmp_path: Path) -> None:
    image = tmp_path / "bzImage"
    image.write_bytes(fake_bzimage(gzip.compress(ELF)))
    first = extract_vmlinux(image, tmp_path / "cache")
    assert first.built_now and first.pvh and first.compression == "gzip"
    assert first.path.read_bytes() == ELF
    again = extract_vmlinux(image, tmp_path / "cache")
    assert not again.built_now and again.path == first.path and again.pvh_entry == 0x1000850
    image.write_bytes(fake_bzimage(gzip.compress(fake_elf(b""))))
    other = extract_vmlinux(image, tmp_path / "cache")
    assert other.built_now and other.path != first.path and not other.pvh
