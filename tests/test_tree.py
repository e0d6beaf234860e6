"""Shapes of a kernel source directory, its effective config, and build-log errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.errors import InfraError
from orchestrator.tree import (
    detect,
    effective_config,
    first_error,
    image_is_current,
    merge_command,
    unmet,
)

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "selftests/vm/config"
GUEST = ROOT / "qemu-images/kernel.config"


def source_tree(path: Path) -> Path:
    (path / "arch/x86").mkdir(parents=True)
    (path / "mm").mkdir()
    (path / "Makefile").write_text("# top\n")
    (path / "Kconfig").write_text("# top\n")
    (path / "mm/shmem.c").write_text("/* */\n")
    return path


def age(path: Path, seconds: float) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def test_the_four_shapes(tmp_path: Path) -> None:
    tree = source_tree(tmp_path / "linux")
    assert detect(tree).kind == "pristine"
    (tree / ".config").write_text("CONFIG_SWAP=y\n")
    assert detect(tree).kind == "configured"
    (tree / "include/config").mkdir(parents=True)
    (tree / "include/config/auto.conf").write_text("CONFIG_SWAP=y\n")
    assert detect(tree).kind == "configured", "olddefconfig writes auto.conf too"
    (tree / "vmlinux").write_text("")
    assert detect(tree).kind == "built"
    out = tmp_path / "out"
    out.mkdir()
    (out / "source").symlink_to(tree)
    (out / ".config").write_text("CONFIG_SWAP=y\n")
    (out / "Makefile").write_text("include source/Makefile\n")
    shape = detect(out)
    assert (shape.kind, shape.source, shape.objdir) == ("objdir", tree, out)
    assert shape.image == out / "arch/x86/boot/bzImage"


def test_not_a_tree_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="without a Makefile"):
        detect(tmp_path)
    (tmp_path / "Makefile").write_text("all:\n")
    with pytest.raises(InfraError, match="not a Linux source tree"):
        detect(tmp_path)


def test_effective_config_prefers_what_the_last_build_used(tmp_path: Path) -> None:
    tree = source_tree(tmp_path / "linux")
    (tree / ".config").write_text("CONFIG_SWAP=y\n# CONFIG_MEMCG is not set\n")
    assert effective_config(detect(tree)) == {"CONFIG_SWAP": "y", "CONFIG_MEMCG": "n"}
    (tree / "include/config").mkdir(parents=True)
    auto = tree / "include/config/auto.conf"
    auto.write_text("CONFIG_SWAP=y\nCONFIG_MEMCG=y\n")
    assert effective_config(detect(tree))["CONFIG_MEMCG"] == "y"
    age(auto, 60)  # .config edited after the last build: it is what the next one uses
    assert effective_config(detect(tree))["CONFIG_MEMCG"] == "n"


def test_unmet_options_and_modules(tmp_path: Path) -> None:
    config = {"CONFIG_VIRTIO_BLK": "m", "CONFIG_SWAP": "y"}
    names = {r.option for r in unmet(config, TESTS, GUEST, modules_ok=False)}
    assert {"CONFIG_VIRTIO_BLK", "CONFIG_USERFAULTFD"} <= names and "CONFIG_SWAP" not in names
    with_modules = {r.option for r in unmet(config, TESTS, GUEST, modules_ok=True)}
    assert "CONFIG_VIRTIO_BLK" not in with_modules, "a guest driver may be a loaded module"
    assert "CONFIG_USERFAULTFD" in with_modules, "what the tests need must be built in"
    console = {"CONFIG_SERIAL_8250": "m"}
    assert "CONFIG_SERIAL_8250" in {r.option for r in unmet(console, TESTS, GUEST, True)}


def test_merge_command_names_the_fragments(tmp_path: Path) -> None:
    tree = source_tree(tmp_path / "linux")
    (tree / ".config").write_text("")
    command = merge_command(detect(tree), [TESTS, GUEST])
    assert "scripts/kconfig/merge_config.sh -m" in command and str(TESTS) in command
    assert command.endswith("make olddefconfig")


def test_first_error_is_the_cause_not_the_last_line() -> None:
    log = "\n".join(
        [
            "  CC      mm/shmem.o",
            "mm/shmem.c:12:5: error: 'x' undeclared (first use in this function)",
            "make[3]: *** [scripts/Makefile.build:229: mm/shmem.o] Error 1",
            "make[2]: *** [scripts/Makefile.build:478: mm] Error 2",
            "make: Leaving directory '/src/linux'",
        ]
    )
    assert first_error(log).startswith("mm/shmem.c:12:5: error:")
    kbuild = "***\n*** The source tree is not clean, please run 'make mrproper'\n"
    assert "not clean" in first_error(kbuild + "make: *** [Makefile:240: __sub-make] Error 2")
    assert first_error("make: *** [Makefile:240: bzImage] Error 2").endswith("Error 2")


def test_an_image_newer_than_its_sources_is_current(tmp_path: Path) -> None:
    tree = source_tree(tmp_path / "linux")
    (tree / ".config").write_text("CONFIG_SWAP=y\n")
    (tree / "vmlinux").write_text("")
    image = tree / "arch/x86/boot/bzImage"
    image.parent.mkdir(parents=True)
    for path in (tree / ".config", tree / "mm/shmem.c", tree / "Makefile", tree / "Kconfig"):
        age(path, 100)
    image.write_text("image")
    shape = detect(tree)
    assert image_is_current(shape)
    (tree / "mm/shmem.c").write_text("/* changed */\n")
    assert not image_is_current(shape)
