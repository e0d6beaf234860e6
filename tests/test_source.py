"""Kernel source trees: fragment merging checks, without building a kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InfraError
from orchestrator.source import build_tree, missing_options, read_fragments

ROOT = Path(__file__).resolve().parent.parent
GUEST = ROOT / "qemu-images" / "kernel.config"
TESTS = ROOT / "selftests" / "vm" / "config"
FRAGMENTS = [GUEST, TESTS]


def test_fragments_ask_for_what_the_tests_and_the_guest_need() -> None:
    wanted = read_fragments(FRAGMENTS)
    for option in ("CONFIG_SWAP", "CONFIG_USERFAULTFD", "CONFIG_VIRTIO_BLK", "CONFIG_MEMCG"):
        assert wanted[option] == "y"


def test_missing_options_names_what_olddefconfig_dropped() -> None:
    config = "CONFIG_SWAP=y\n# CONFIG_USERFAULTFD is not set\nCONFIG_VIRTIO_BLK=m\n"
    wanted = {"CONFIG_SWAP": "y", "CONFIG_USERFAULTFD": "y", "CONFIG_VIRTIO_BLK": "y"}
    assert missing_options(config, wanted) == ["CONFIG_USERFAULTFD", "CONFIG_VIRTIO_BLK"]


def test_a_directory_that_is_not_a_tree(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("all:\n")
    with pytest.raises(InfraError) as err:
        build_tree(tmp_path, GUEST, TESTS, tmp_path / "cache", tmp_path / "logs")
    assert "not a Linux source tree" in err.value.cause
