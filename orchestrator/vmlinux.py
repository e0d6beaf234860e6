"""The uncompressed ELF vmlinux inside an x86 bzImage, for a PVH boot (`-M microvm -kernel`).

QEMU boots an ELF kernel straight at its PVH entry point (no firmware, no decompression), but
distributions ship only the bzImage.  The compressed kernel is found the way the kernel's
scripts/extract-vmlinux finds it, by the magic of its compression format; the setup header's
own payload_offset (boot protocol 2.08+) is tried first, since it names the exact place.  A
candidate counts only when it decompresses to a whole ELF file.  The result is cached by the
image's content hash.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .cache import atomic_write_bytes, sha256_file
from .errors import InfraError

ELF_MAGIC = b"\x7fELF"
XEN_ELFNOTE_PHYS32_ENTRY = 18  # include/xen/interface/elfnote.h
PT_NOTE = 4
SHT_NOTE = 7
CACHE_FORMAT = 1


@dataclass(frozen=True)
class Compression:
    name: str
    magic: bytes
    tool: str | None  # the command-line tool that decompresses it (stdin to stdout), if not Python


# The magic each decompressor's stream starts with, as the kernel's Makefile.lib writes it.
COMPRESSIONS = (
    Compression("gzip", b"\x1f\x8b\x08", None),
    Compression("xz", b"\xfd7zXZ\x00", None),
    Compression("bzip2", b"BZh", None),
    Compression("lzma", b"\x5d\x00\x00\x00", None),
    Compression("lz4", b"\x02\x21\x4c\x18", "lz4"),  # the legacy frame the kernel uses
    Compression("zstd", b"\x28\xb5\x2f\xfd", "zstd"),
)
TOOL_PACKAGES = {"lz4": "lz4", "zstd": "zstd"}


@dataclass(frozen=True)
class Vmlinux:
    path: Path
    compression: str  # how the bzImage held it
    offset: int  # where in the bzImage the payload starts
    pvh_entry: int | None  # the PVH entry address from the Xen ELF note, if the kernel has one
    built_now: bool

    @property
    def pvh(self) -> bool:
        return self.pvh_entry is not None


def _decompress_python(name: str, data: bytes | memoryview) -> bytes:
    """Decompress a stream that may be followed by anything (the kernel appends its size)."""
    try:
        if name == "gzip":
            return zlib.decompressobj(wbits=31).decompress(data)
        if name == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
        if name == "lzma":
            return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
        if name == "bzip2":
            return bz2.BZ2Decompressor().decompress(data)
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError):
        return b""
    raise ValueError(name)


def _decompress_tool(tool: str, data: bytes | memoryview) -> bytes:
    """The tool's output, whatever its exit status: the trailing bytes after the stream
    (the kernel's appended size, the rest of the image) make lz4 and zstd complain after
    they have written the whole kernel.  The caller checks the ELF is whole."""
    out = subprocess.run([tool, "-dc"], input=data, capture_output=True, check=False)
    return out.stdout


def elf_complete(data: bytes) -> bool:
    """A 64-bit little-endian ELF whose program and section headers and segments all lie
    within the data, i.e. not a truncated decompression."""
    if len(data) < 64 or data[:4] != ELF_MAGIC or data[4] != 2 or data[5] != 1:
        return False
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    if phoff + phnum * phentsize > len(data) or shoff + shnum * shentsize > len(data):
        return False
    for i in range(phnum):
        p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<QQQQ", data, phoff + i * phentsize + 8
        )
        if p_offset + p_filesz > len(data):
            return False
    return True


def _notes(blob: bytes) -> Iterator[tuple[bytes, int, bytes]]:
    """(name, type, descriptor) of each ELF note in a note segment or section."""
    at = 0
    while at + 12 <= len(blob):
        namesz, descsz, ntype = struct.unpack_from("<III", blob, at)
        at += 12
        name = blob[at : at + namesz].rstrip(b"\0")
        at += (namesz + 3) & ~3
        desc = blob[at : at + descsz]
        at += (descsz + 3) & ~3
        yield name, ntype, desc


def pvh_entry(elf: Path) -> int | None:
    """The PVH entry point from the kernel's Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (name
    "Xen", type 18; CONFIG_PVH), or None.  Note segments are read first, note sections when
    the file has no PT_NOTE."""
    with elf.open("rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != ELF_MAGIC or head[4] != 2:
            return None
        phoff, shoff = struct.unpack_from("<QQ", head, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", head, 0x36)
        regions: list[tuple[int, int]] = []
        f.seek(phoff)
        table = f.read(phnum * phentsize)
        for i in range(phnum):
            p_type = struct.unpack_from("<I", table, i * phentsize)[0]
            if p_type == PT_NOTE:
                off, _v, _p, size = struct.unpack_from("<QQQQ", table, i * phentsize + 8)
                regions.append((off, size))
        if not regions and shnum:
            f.seek(shoff)
            table = f.read(shnum * shentsize)
            for i in range(shnum):
                sh_type = struct.unpack_from("<I", table, i * shentsize + 4)[0]
                if sh_type == SHT_NOTE:
                    off, size = struct.unpack_from("<QQ", table, i * shentsize + 0x18)
                    regions.append((off, size))
        for off, size in regions:
            f.seek(off)
            for name, ntype, desc in _notes(f.read(size)):
                if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY and len(desc) >= 4:
                    # A 32-bit physical address (the kernel emits it with _ASM_PTR on
                    # 64-bit, hence 8 bytes there).
                    width = 8 if len(desc) >= 8 else 4
                    return int.from_bytes(desc[:width], "little")
    return None


def _header_payload(image: bytes) -> int | None:
    """Where the setup header says the compressed payload starts (boot protocol >= 2.08)."""
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        return None
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x208:
        return None
    setup_sects = image[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", image, 0x248)
    start: int = (setup_sects + 1) * 512 + payload_offset
    if payload_length == 0 or start + payload_length > len(image):
        return None
    return start


def _candidates(image: bytes) -> Iterator[tuple[int, Compression]]:
    """Positions where a compressed kernel may start, the header's first, then every
    occurrence of every magic in image order."""
    seen: set[int] = set()
    start = _header_payload(image)
    if start is not None:
        for comp in COMPRESSIONS:
            if image.startswith(comp.magic, start):
                seen.add(start)
                yield start, comp
    found: list[tuple[int, Compression]] = []
    for comp in COMPRESSIONS:
        at = image.find(comp.magic)
        while at >= 0:
            if at not in seen:
                found.append((at, comp))
            at = image.find(comp.magic, at + 1)
    yield from sorted(found, key=lambda item: item[0])


def _decompressor(comp: Compression) -> Callable[[memoryview], bytes] | None:
    if comp.tool is None:
        return lambda data: _decompress_python(comp.name, data)
    tool = comp.tool
    if shutil.which(tool) is None:
        return None
    return lambda data: _decompress_tool(tool, data)


def extract_elf(image: bytes) -> tuple[bytes, str, int]:
    """(vmlinux, compression, offset) from a bzImage's bytes, or raise InfraError."""
    missing: set[str] = set()
    tried: set[str] = set()
    for at, comp in _candidates(image):
        decompress = _decompressor(comp)
        if decompress is None:
            missing.add(comp.tool or comp.name)
            continue
        tried.add(comp.name)
        data = decompress(memoryview(image)[at:])
        if elf_complete(data):
            return data, comp.name, at
    if missing:
        names = sorted(missing)
        raise InfraError(
            f"the kernel image may be compressed with {', '.join(names)}, whose tool is missing",
            "apt-get install " + " ".join(TOOL_PACKAGES.get(n, n) for n in names),
        )
    raise InfraError(
        "no compressed ELF kernel found in the image"
        + (f" (tried {', '.join(sorted(tried))})" if tried else " (no known compression magic)"),
        "give an x86 bzImage, or boot it with -M pc",
    )


def extract_vmlinux(image: Path, cache: Path) -> Vmlinux:
    """The ELF vmlinux of bzImage @image, extracted once per image content into
    <cache>/vmlinux/<sha256 prefix>/."""
    digest = sha256_file(image)
    where = cache / "vmlinux" / f"{digest[:24]}-{CACHE_FORMAT}"
    target = where / "vmlinux"
    meta = where / "source"
    if target.is_file() and meta.is_file():
        how, _, where_in_image = meta.read_text().strip().partition(" ")
        return Vmlinux(target, how, int(where_in_image), pvh_entry(target), built_now=False)
    data, compression, offset = extract_elf(image.read_bytes())
    atomic_write_bytes(target, data)
    atomic_write_bytes(meta, f"{compression} {offset}\n".encode())
    return Vmlinux(target, compression, offset, pvh_entry(target), built_now=True)
