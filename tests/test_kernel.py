"""Kernel image checks that need no QEMU."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.bzimage import image_version_string
from orchestrator.errors import InfraError
from orchestrator.kernel import kernel_from_image


def fake_bzimage(path: Path, version: bytes) -> None:
    data = bytearray(0x4000)
    data[0x202:0x206] = b"HdrS"
    offset = 0x1000
    data[0x20E:0x210] = offset.to_bytes(2, "little")
    data[offset + 0x200 : offset + 0x200 + len(version)] = version
    path.write_bytes(bytes(data))


def test_version_string_and_name(tmp_path: Path) -> None:
    image = tmp_path / "bzImage"
    fake_bzimage(image, b"6.12.0-rc1+ (me@host) #3 SMP\0")
    assert image_version_string(image) == "6.12.0-rc1+ (me@host) #3 SMP"
    kernel = kernel_from_image(image, None)
    assert kernel.name == "bzImage", "named from its path, not from uname -r"
    assert kernel.version_string.startswith("6.12.0-rc1+ ")
    assert kernel.source.kind == "image"


@pytest.mark.parametrize("kind", ["missing", "directory", "not-a-kernel"])
def test_bad_images_say_what_to_do(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "img"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-a-kernel":
        path.write_text("hello")
    with pytest.raises(InfraError) as err:
        kernel_from_image(path, None)
    assert str(path) in err.value.cause
    assert "--kernel" in err.value.fix
