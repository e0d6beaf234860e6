"""parallel: the -n and --smp the orchestrator picks when the user does not say, and the
count of tests a -k selects before pytest has collected them."""

from __future__ import annotations

import pytest

from orchestrator.parallel import choose, selected

PAIRS = [(k, p) for k in ("debian-6.1", "debian-7.3")
         for p in ("shmem_lseek", "madv_populate", "shmem_punch")]  # fmt: skip


@pytest.mark.parametrize(
    ("keyword", "count"),
    [
        ("", 6),
        ("shmem_lseek", 2),
        ("not shmem_lseek", 4),
        ("7.3 and punch", 1),
        ("lseek or madv", 4),
        ("SHMEM", 4),  # case-insensitive, like pytest
        ("debian-6.1", 3),
        ("nothing_like_it", 0),
        ("((", 6),  # pytest rejects it itself; every test counts meanwhile
    ],
)
def test_selected_counts_like_pytest_k(keyword: str, count: int) -> None:
    assert selected(keyword, PAIRS) == count


def test_several_tests_spread_over_the_cores_with_one_vcpu_each() -> None:
    par = choose(items=32, cores=2, workers=None, smp=None)
    assert (par.workers, par.smp) == (2, 1)
    assert "by default" in par.why and "32 kernel x program tests on 2 host cores" in par.why
    assert (choose(3, 8, None, None).workers, choose(3, 8, None, None).smp) == (3, 1)


def test_one_test_gets_one_vm_with_two_vcpus() -> None:
    assert (choose(1, 2, None, None).workers, choose(1, 2, None, None).smp) == (1, 2)
    assert (choose(0, 2, None, None).workers, choose(0, 2, None, None).smp) == (1, 2)
    assert (choose(8, 1, None, None).workers, choose(8, 1, None, None).smp) == (1, 2)


def test_what_the_user_gives_is_kept_and_the_rest_fitted() -> None:
    assert (choose(32, 2, 2, 2).workers, choose(32, 2, 2, 2).smp) == (2, 2)
    assert choose(32, 2, 1, None).smp == 2, "-n 1: the guest gets both cores"
    assert choose(32, 2, 2, None).smp == 1
    assert choose(32, 8, 2, None).smp == 2
    assert choose(32, 2, 0, None).workers == 1, "-n 0 is no xdist"
    assert choose(32, 2, None, 2).workers == 1, "--smp 2 fills 2 cores with one VM"
    assert choose(32, 8, None, 2).workers == 4
    assert choose(3, 8, None, 1).workers == 3
    assert "as given" in choose(32, 2, None, 2).why
