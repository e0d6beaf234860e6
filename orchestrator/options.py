"""Command-line options of the suite and their validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import pytest

from .errors import InfraError
from .labels import KernelSpec, check_unique, parse_kernel_option
from .parallel import host_cores

ACCELS = ("auto", "kvm", "tcg")
MACHINES = ("auto", "microvm", "pc")
DEFAULT_MEMORY = "256M"
MIN_MEMORY_MB = 96
MachineOption = Literal["auto", "microvm", "pc"]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("residency", "page-residency kselftests under QEMU")
    add = group.addoption
    add(
        "--kernel",
        action="append",
        default=[],
        metavar="[NAME=]SPEC",
        help="kernel to test: debian:NAME (a Debian cloud kernel preset), a kernel source "
        "tree (a directory, built here) or a kernel image (bzImage/vmlinuz); repeat for "
        "several.  NAME= labels it in every report (default: the preset, the tree's branch "
        "or directory, the image's path).  Default: the Debian cloud kernel of the host's "
        "suite, fetched with apt",
    )
    add(
        "--modules",
        default=None,
        metavar="DIR",
        help="modules of the --kernel image: lib/modules/<release> or the root holding it",
    )
    add(
        "--memory",
        default=None,
        metavar="SIZE",
        help="guest RAM of every program (default 256M, and for the programs in "
        "qemu-images/guest-memory.toml the size given there)",
    )
    add(
        "--swap",
        default="512M",
        metavar="SIZE",
        help="size of the guest's swap disk, 0 for none (default 512M)",
    )
    add(
        "--smp",
        default=None,
        type=int,
        metavar="N",
        help="guest CPUs (default: 1 when several tests run on several VMs at once, else 2)",
    )
    add(
        "--accel",
        default="auto",
        choices=ACCELS,
        help="auto: KVM if a probe guest really boots under it, else TCG (default auto)",
    )
    add(
        "--machine",
        default="auto",
        choices=MACHINES,
        help="auto: -M microvm (the PVH vmlinux, a virtio-mmio disk) when the kernel has what "
        "it needs, else -M pc, and -M pc when a microvm boot fails; microvm or pc forces one "
        "(default auto)",
    )
    add(
        "--timeout",
        default=None,
        type=int,
        metavar="SECONDS",
        help="per-program timeout (default: timeout= from selftests/vm/settings)",
    )
    add(
        "--boot-timeout",
        default=120,
        type=int,
        metavar="SECONDS",
        help="how long a guest may take to boot (default 120)",
    )
    add(
        "--retry-failed",
        action="store_true",
        help="run a failed program once more in a fresh VM; a pass then is reported flaky",
    )
    add(
        "--selftests",
        default=None,
        metavar="DIR",
        help="kselftest directory to build and run (default: selftests/vm)",
    )
    add(
        "--expectations",
        default=None,
        metavar="FILE",
        help="versioned expectations (default: expectations.toml in the repository)",
    )
    add(
        "--no-expectations",
        action="store_true",
        help="ignore the expectations file: report every result as the kernel gave it",
    )
    add(
        "--refresh-kernels",
        action="store_true",
        help="ask apt again which Debian kernel the default and debian:NAME mean (otherwise "
        "the answer is reused until apt's package lists change)",
    )
    add(
        "--merge-config",
        action="store_true",
        help="for a --kernel source tree whose .config lacks what the tests or the guest need: "
        "add it (merge_config.sh; the old .config is kept as .config.residency-<time>)",
    )
    add(
        "--console",
        action="store_true",
        help="show the guests' serial consoles on the terminal as they come (without it "
        "they are only in results/<run>/console/)",
    )
    add(
        "--results",
        default=None,
        metavar="DIR",
        help="where runs are written (default: results/ of this project, wherever it is run from)",
    )
    add(
        "--baseline",
        default=None,
        metavar="PATH",
        help="compare with an earlier run (its results directory or summary.json): exit 1 "
        "only on a regression, a new failure or a subtest gone; 0 while a subtest fails as it "
        "did there",
    )
    add(
        "--subtest",
        action="append",
        default=[],
        metavar="PROGRAM:SUBTEST",
        help="run only PROGRAM (whole) and let only SUBTEST decide the verdict; the others are "
        "reported but do not count; repeat for several",
    )
    add(
        "--bisect",
        action="store_true",
        help="exit status for git bisect run: 0 good, 1 bad, 125 this commit cannot be tested "
        "(tree does not build, kernel does not boot), 128 an error that would repeat at every "
        "commit (bad option, QEMU missing, nothing selected); expectations and retries are off",
    )
    add(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="artifact cache (default $RESIDENCY_CACHE or ~/.cache/residency-kselftest)",
    )


_SIZE = re.compile(r"^(\d+)([KMG]?)i?B?$", re.I)


def parse_size_mb(text: str, option: str) -> int:
    """'256M', '1G', '512' (MiB) -> MiB."""
    m = _SIZE.match(text.strip())
    if not m:
        raise InfraError(
            f"{option} {text!r} is not a size", f"write it like {option} 256M or {option} 1G"
        )
    value, unit = int(m.group(1)), m.group(2).upper()
    if unit == "K":
        return value // 1024
    return value * 1024 if unit == "G" else value


def parse_subtest(value: str) -> tuple[str, str]:
    """--subtest PROGRAM:SUBTEST."""
    program, _, subtest = value.partition(":")
    if not program or not subtest:
        raise InfraError(
            f"--subtest {value!r} does not name a program and a subtest",
            "write it as --subtest PROGRAM:SUBTEST, "
            "e.g. --subtest shmem_lseek:memfd_empty_file_enxio",
        )
    return program, subtest


@dataclass(frozen=True)
class Options:
    kernels: tuple[KernelSpec, ...]
    modules: Path | None
    memory_mb: int
    swap_mb: int
    smp: int | None
    accel: str
    timeout: int | None
    boot_timeout: int
    results: Path | None
    cache_dir: Path | None
    expectations: Path | None
    selftests: Path | None
    retry_failed: bool
    use_expectations: bool
    refresh_kernels: bool = False
    merge_config: bool = False
    baseline: Path | None = None
    subtests: tuple[tuple[str, str], ...] = ()
    bisect: bool = False
    machine: MachineOption = "auto"
    workers: int | None = None  # -n as given (None: not given; "auto" counts the host's cores)
    keyword: str = ""  # -k, to count the tests that will run
    memory_given: bool = False  # --memory given: no per-program sizes


def read_options(config: pytest.Config) -> Options:
    opt = config.option
    memory = parse_size_mb(opt.memory or DEFAULT_MEMORY, "--memory")
    if memory < MIN_MEMORY_MB:
        raise InfraError(f"--memory {opt.memory} is too small to boot", "use --memory 128M or more")
    swap = parse_size_mb(opt.swap, "--swap")
    if opt.smp is not None and opt.smp < 1:
        raise InfraError(f"--smp {opt.smp} is not a CPU count", "use --smp 1 or more")
    if opt.timeout is not None and opt.timeout <= 0:
        raise InfraError(f"--timeout {opt.timeout} is not positive", "use --timeout 60 or more")
    if opt.boot_timeout <= 0:
        raise InfraError(f"--boot-timeout {opt.boot_timeout} is not positive", "use 60 or more")
    kernels = tuple(parse_kernel_option(value) for value in opt.kernel)
    check_unique([k.label for k in kernels if k.label])
    if opt.modules and len(kernels) != 1:
        raise InfraError(
            "--modules needs exactly one --kernel image to belong to",
            "pass one --kernel PATH with its --modules DIR",
        )
    subtests = tuple(parse_subtest(value) for value in opt.subtest)
    return Options(
        baseline=Path(opt.baseline) if opt.baseline else None,
        subtests=subtests,
        bisect=opt.bisect,
        kernels=kernels,
        modules=Path(opt.modules) if opt.modules else None,
        memory_mb=memory,
        swap_mb=swap,
        smp=opt.smp,
        accel=opt.accel,
        timeout=opt.timeout,
        boot_timeout=opt.boot_timeout,
        results=Path(opt.results) if opt.results else None,
        cache_dir=Path(opt.cache_dir) if opt.cache_dir else None,
        expectations=Path(opt.expectations) if opt.expectations else None,
        # Under --bisect a known failure must not make a bad commit look good.
        use_expectations=not opt.no_expectations and not opt.bisect,
        selftests=Path(opt.selftests) if opt.selftests else None,
        retry_failed=opt.retry_failed and not opt.bisect,
        refresh_kernels=opt.refresh_kernels,
        merge_config=opt.merge_config,
        machine=cast(MachineOption, opt.machine),
        workers=given_workers(config),
        keyword=str(getattr(opt, "keyword", "") or ""),
        memory_given=opt.memory is not None,
    )


def given_workers(config: pytest.Config) -> int | None:
    """pytest-xdist's -n as the user gave it: None when not given, the host's cores for
    "auto" and "logical", 1 when xdist is not loaded (-p no:xdist)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return 1
    value = getattr(config.option, "numprocesses", None)
    if value is None:
        return None
    if isinstance(value, str):
        return host_cores()
    return int(value)
