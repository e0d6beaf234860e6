"""orchestrator.upstream without the network: the cache, and failures as InfraError."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from orchestrator import upstream
from orchestrator.debian import LIST_MAX_AGE
from orchestrator.errors import InfraError


def _seed(cache: Path, age: float) -> Path:
    base = cache / "upstream" / "linux-source-7.3"
    header = base / "7.3_rc7-1_exp1" / "kselftest.h"
    header.parent.mkdir(parents=True)
    header.write_text("/* cached */\n")
    stamp = {"package_version": "7.3~rc7-1~exp1", "time": time.time() - age}
    (base / "kselftest.h.resolved.json").write_text(json.dumps(stamp))
    return header


class NoApt:
    def __init__(self, *args: object) -> None:
        raise AssertionError("apt must not be used")


class BrokenApt:
    suites = ("sid",)

    def __init__(self, *args: object) -> None:
        pass

    def prepare(self, force: bool = False) -> None:
        raise InfraError("apt-get update for ('sid',) failed: no network", "check the mirror")


def test_a_fresh_cached_header_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = _seed(tmp_path, age=60)
    monkeypatch.setattr(upstream, "PrivateApt", NoApt)
    got = upstream.fetch_kselftest_header("7.3", tmp_path)
    assert (got.path, got.package_version, got.downloaded) == (header, "7.3~rc7-1~exp1", False)


def test_a_stale_cache_asks_apt_and_a_failure_is_an_infra_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(tmp_path, age=LIST_MAX_AGE + 60)
    monkeypatch.setattr(upstream, "PrivateApt", BrokenApt)
    with pytest.raises(InfraError, match="no network"):
        upstream.fetch_kselftest_header("7.3", tmp_path)


def test_an_unknown_series_is_an_infra_error(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match=r"linux-source-5\.10"):
        upstream.fetch_kselftest_header("5.10", tmp_path)


def _seed_tree(cache: Path, age: float, done: bool = True) -> Path:
    base = cache / "upstream" / "linux-source-6.12"
    tree = base / "6.12.118-1" / "mm-tree"
    tree.mkdir(parents=True)
    if done:
        (tree / upstream.MM_TREE_DONE).write_text("6.12.118-1\n")
    stamp = {"package_version": "6.12.118-1", "time": time.time() - age}
    (base / "mm-tree.resolved.json").write_text(json.dumps(stamp))
    return tree


def test_a_fresh_cached_mm_tree_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _seed_tree(tmp_path, age=60)
    monkeypatch.setattr(upstream, "PrivateApt", NoApt)
    got = upstream.fetch_mm_tree("6.12", tmp_path)
    assert (got.path, got.package_version, got.fetched) == (tree, "6.12.118-1", False)


@pytest.mark.parametrize(("age", "done"), [(LIST_MAX_AGE + 60, True), (60, False)])
def test_a_stale_or_unfinished_mm_tree_asks_apt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, age: float, done: bool
) -> None:
    _seed_tree(tmp_path, age=age, done=done)
    monkeypatch.setattr(upstream, "PrivateApt", BrokenApt)
    with pytest.raises(InfraError, match="no network"):
        upstream.fetch_mm_tree("6.12", tmp_path)


def test_mm_build_parts() -> None:
    assert upstream._wanted("tools/testing/selftests/mm/Makefile")
    assert upstream._wanted("mm/gup_test.h")
    assert not upstream._wanted("mm/memory.c")
    assert not upstream._wanted("drivers/Makefile")
