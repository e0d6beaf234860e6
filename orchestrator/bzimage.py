"""The x86 boot header of a kernel image: the version string it embeds."""

from __future__ import annotations

from pathlib import Path

from .errors import InfraError


def image_version_string(image: Path) -> str:
    """The version string embedded in an x86 bzImage's setup header, or raise InfraError."""
    try:
        with image.open("rb") as f:
            head = f.read(0x8000)
    except OSError as e:
        raise InfraError(
            f"kernel image {image} cannot be read ({e.strerror})",
            "pass --kernel with a readable bzImage/vmlinuz file",
        ) from None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        raise InfraError(
            f"{image} is not an x86 bzImage (no 'HdrS' boot header)",
            "pass --kernel arch/x86/boot/bzImage or a /boot/vmlinuz-* file",
        )
    offset = int.from_bytes(head[0x20E:0x210], "little")
    start = offset + 0x200
    if offset == 0 or start >= len(head):
        return ""
    raw = head[start : start + 256].split(b"\0", 1)[0]
    return raw.decode("ascii", "replace").strip()
