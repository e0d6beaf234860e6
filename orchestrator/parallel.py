"""How many VMs run at once (`-n`) and how many vCPUs each gets (`--smp`) when the user does
not say.

Under TCG every vCPU that works keeps a host core busy, and the memory-pressure tests keep
both vCPUs of a `--smp 2` guest working.  So on C host cores the fast combination for K
kernel x program items is min(C, K) VMs with one vCPU each; measured on 2 cores, the
four-kernel matrix took 192 s with `-n 1 --smp 2` and 112 s with `-n 2 --smp 1` (same
results).  A single item keeps the old default, one VM with two vCPUs: nothing else could
use the second core.  A value the user gives is kept, and the other is fitted to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from _pytest.mark.expression import Expression

SINGLE_VM_SMP = 2  # the vCPUs of a guest that runs alone


@dataclass(frozen=True)
class Parallelism:
    workers: int  # VMs at once: pytest-xdist workers (1: no xdist)
    smp: int  # vCPUs per guest
    why: str


def host_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or taskset
    limits it), not the machine's."""
    return max(1, len(os.sched_getaffinity(0)))


def choose(items: int, cores: int, workers: int | None, smp: int | None) -> Parallelism:
    """-n and --smp for @items kernel x program tests on @cores host cores; @workers and
    @smp are what the user gave (None: not given)."""
    basis = f"{items} kernel x program test{'s' if items != 1 else ''} on {cores} host cores"
    if workers is not None and smp is not None:
        return Parallelism(max(1, workers), smp, f"-n {workers} --smp {smp} as given")
    if workers is not None:
        n = max(1, workers)
        fitted = SINGLE_VM_SMP if n * SINGLE_VM_SMP <= cores else 1
        return Parallelism(n, fitted, f"-n {workers} as given; --smp {fitted} to fit {basis}")
    if smp is not None:
        n = max(1, min(items, cores // smp))
        return Parallelism(n, smp, f"--smp {smp} as given; -n {n} for {basis}")
    if items >= 2 and cores >= 2:
        n = min(cores, items)
        return Parallelism(n, 1, f"-n {n} --smp 1 by default for {basis}")
    return Parallelism(1, SINGLE_VM_SMP, f"-n 1 --smp {SINGLE_VM_SMP} by default for {basis}")


def selected(keyword: str, names: Iterable[tuple[str, str]]) -> int:
    """How many of the (kernel, program) tests pytest's `-k @keyword` will run, matched the
    way pytest does (a case-insensitive substring of the test's name or its parents'),
    before pytest has collected them: -n must be known before the workers start.  An
    expression pytest would reject counts every test (pytest then reports the error)."""
    pairs = list(names)
    if not keyword:
        return len(pairs)
    try:
        expression = Expression.compile(keyword)
    except SyntaxError:
        return len(pairs)
    return sum(expression.evaluate(_matcher(kernel, program)) for kernel, program in pairs)


def _matcher(kernel: str, program: str) -> Callable[..., bool]:
    """pytest's keyword matcher for the test of @kernel x @program: its name and its
    parents' (the function, suite.py, the orchestrator package)."""
    names = [f"test_program[{kernel}:{program}]".lower(), "suite.py", "orchestrator"]

    def matcher(name: str, /, **kwargs: object) -> bool:
        return not kwargs and any(name.lower() in n for n in names)

    return matcher
