"""Mirror discovery from apt sources, the presets file, and reusing a resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.debian import FetchedKernel, host_mirrors, load_presets, resolve_once
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


def _fetched(tree: Path, version: str) -> FetchedKernel:
    (tree / ".complete").parent.mkdir(parents=True, exist_ok=True)
    (tree / ".complete").write_text("x\n")
    return FetchedKernel(tree, (("linux-image-x", version),), "bookworm")


def test_a_resolution_is_reused_until_the_lists_change(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb_dists_bookworm_main_binary-amd64_Packages").write_text("a\n")
    record = tmp_path / "resolved.json"
    calls: list[str] = []

    def resolve() -> FetchedKernel:
        calls.append("apt")
        return _fetched(tmp_path / f"tree{len(calls)}", f"6.1.{len(calls)}")

    first = resolve_once(record, lists, resolve)
    assert first.resolved == "apt" and calls == ["apt"]
    again = resolve_once(record, lists, resolve)
    assert calls == ["apt"], "unchanged lists: apt is not asked again"
    assert again.packages == first.packages and again.resolved.startswith("cache:")
    assert resolve_once(record, lists, resolve, refresh=True).packages[0][1] == "6.1.2"
    (lists / "deb_dists_bookworm_main_binary-amd64_Packages").write_text("changed\n")
    assert resolve_once(record, lists, resolve).packages[0][1] == "6.1.3"


def test_a_warm_cache_works_without_apt(tmp_path: Path) -> None:
    lists = tmp_path / "lists"  # an offline agent: no lists at all
    record = tmp_path / "resolved.json"
    saved = _fetched(tmp_path / "tree", "6.1.9")
    resolve_once(record, lists, lambda: saved)

    def no_apt() -> FetchedKernel:
        raise InfraError("apt knows no linux-image-cloud-amd64", "run 'apt-get update'")

    reused = resolve_once(record, lists, no_apt)
    assert reused.packages == saved.packages
    assert "apt could not resolve it" in reused.resolved
    (tmp_path / "tree" / ".complete").unlink()  # the kernel is gone from the cache: no reuse
    with pytest.raises(InfraError, match="apt knows no"):
        resolve_once(record, lists, no_apt)
