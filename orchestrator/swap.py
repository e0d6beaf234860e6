"""The guest's swap disk: a sparse image the host writes the swap signature into."""

from __future__ import annotations

import os
import struct
from pathlib import Path


def write_swap_image(path: Path, size_mb: int, page_size: int = 4096) -> None:
    """A sparse file holding a version-1 Linux swap signature, as mkswap writes it: the
    version, the last usable page and no bad pages at offset 1024, and the magic
    SWAPSPACE2 at the end of the first page."""
    pages = size_mb * 1024 * 1024 // page_size
    header = bytearray(page_size)
    header[1024:1036] = struct.pack("<III", 1, pages - 1, 0)
    header[1036:1052] = _uuid4()
    header[page_size - 10 :] = b"SWAPSPACE2"
    with path.open("wb") as f:
        f.write(header)
        f.truncate(pages * page_size)


def _uuid4() -> bytes:
    """A random (version 4) UUID, as mkswap gives each swap area; without the uuid module,
    which costs its importer milliseconds (ahead.py writes a swap disk before QEMU starts)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return bytes(raw)
