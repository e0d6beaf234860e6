"""Mirror discovery from apt sources, and the presets file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.debian import host_mirrors, load_presets
from orchestrator.errors import InfraError

ROOT = Path(__file__).resolve().parent.parent


def test_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n"
    )
    assert host_mirrors(tmp_path) == {
        "archive": "http://mirror.example/debian",
        "security": "http://mirror.example/debian-security",
    }


def test_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://m.example/debian/ trixie main\n"
        "deb http://m.example/debian-security trixie-security main\n"
    )
    assert host_mirrors(tmp_path) == {
        "archive": "http://m.example/debian",
        "security": "http://m.example/debian-security",
    }


def test_no_debian_mirror_is_an_infrastructure_error(tmp_path: Path) -> None:
    with pytest.raises(InfraError) as err:
        host_mirrors(tmp_path)
    assert "--kernel PATH" in err.value.fix


def test_presets_name_four_kernels() -> None:
    presets = load_presets(ROOT / "qemu-images" / "kernel-presets.toml")
    assert sorted(presets) == ["6.1", "6.12", "7.2", "7.3"]
    assert presets["7.3"].suites[0] == "experimental"
