"""Kernel labels: --kernel NAME=SPEC and the defaults that stay the same across builds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import InfraError
from orchestrator.labels import (
    KernelSpec,
    check_unique,
    image_label,
    parse_kernel_option,
    tree_label,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("debian:6.1", KernelSpec("debian:6.1")),
        ("base=debian:6.12", KernelSpec("debian:6.12", "base")),
        ("my-branch=~/src/linux", KernelSpec("~/src/linux", "my-branch")),
        ("v6.13-rc1+fix=/tmp/a=b/bzImage", KernelSpec("/tmp/a=b/bzImage", "v6.13-rc1+fix")),
        ("/tmp/a=b/bzImage", KernelSpec("/tmp/a=b/bzImage")),
        (".", KernelSpec(".")),
    ],
)
def test_kernel_option_forms(value: str, expected: KernelSpec) -> None:
    assert parse_kernel_option(value) == expected


@pytest.mark.parametrize("value", ["my branch=.", "a:b=debian:6.1", "x" * 65 + "=.", "name="])
def test_bad_labels_are_named_with_the_fix(value: str) -> None:
    with pytest.raises(InfraError) as err:
        parse_kernel_option(value)
    assert "--kernel" in err.value.cause or "label" in err.value.cause
    assert err.value.fix


def test_a_label_used_twice_is_refused() -> None:
    check_unique(["a", "b"])
    with pytest.raises(InfraError, match="labelled 'a'") as err:
        check_unique(["a", "b", "a"])
    assert "NAME=SPEC" in err.value.fix


def test_a_git_tree_is_named_after_its_branch_and_after_its_directory_when_detached(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "linux"
    tree.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q", "-b", "feature/swap-fix")
    assert tree_label(tree) == "feature_swap-fix"
    (tree / "Makefile").write_text("")
    git("add", "Makefile")
    git("commit", "-qm", "x")
    git("checkout", "-q", "--detach")
    assert tree_label(tree) == "linux", "a bisect (detached HEAD) keeps the directory's name"
    git("worktree", "add", "-q", "-b", "wt", str(tmp_path / "other"))
    assert tree_label(tmp_path / "other") == "wt"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert tree_label(plain) == "plain"


def test_an_image_is_named_from_its_path(tmp_path: Path) -> None:
    assert image_label(Path("/boot/vmlinuz-6.1.0-56-cloud-amd64")) == "vmlinuz-6.1.0-56-cloud-amd64"
    boot = tmp_path / "mytree" / "arch" / "x86" / "boot"
    boot.mkdir(parents=True)
    assert image_label(boot / "bzImage") == "mytree"
    assert image_label(Path("/tmp/odd name/Image:1")) == "Image_1"
