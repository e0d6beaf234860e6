"""Command-line options of the suite and their validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import pytest

from .debian import load_presets
from .errors import InfraError
from .labels import KernelSpec, check_unique, parse_kernel_option
from .parallel import host_cores

PRESETS = Path(__file__).resolve().parent.parent / "qemu-images" / "kernel-presets.toml"
ACCELS = ("auto", "kvm", "tcg")
MACHINES = ("auto", "microvm", "pc")
DEFAULT_MEMORY = "256M"
MIN_MEMORY_MB = 96
MachineOption = Literal["auto", "microvm", "pc"]


GROUP = "residency"
DEST = "residency_"  # every option's attribute on config.option: no plugin's dest is ours
OLD_TIMEOUT = "--timeout"  # --program-timeout's spelling before pytest-timeout's clashed
TIMEOUT_PLUGIN = "timeout"  # pytest-timeout's name in the plugin manager


def add_options(parser: pytest.Parser) -> None:
    """The suite's options, in their own help group.  Their names are checked against the
    common pytest plugins (tests/test_plugin_options.py): pytest-timeout, pytest-xdist,
    pytest-cov, pytest-rerunfailures and others load beside this plugin when installed."""
    group = parser.getgroup(GROUP, "page-residency kselftests under QEMU")

    def add(name: str, **attrs: Any) -> None:
        group.addoption(name, dest=DEST + name.removeprefix("--").replace("-", "_"), **attrs)

    add(
        "--kernel",
        action="append",
        default=[],
        metavar="[NAME=]SPEC",
        help="kernel to test, told apart by its form: debian:NAME, a Debian cloud kernel "
        f"fetched with apt (NAME one of {preset_names()}, from qemu-images/kernel-presets.toml); "
        "a directory, a kernel source tree or a make O= build directory, built here when its "
        "image is not current; anything else, a kernel image (bzImage, /boot/vmlinuz-*; "
        "--modules for its modules).  Repeat for a matrix.  NAME= labels it in every report "
        "(default: debian-NAME, the tree's git branch or directory, the image's file name).  "
        "Default: the Debian cloud kernel of the host's own suite",
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
        "--program-timeout",
        default=None,
        type=int,
        metavar="SECONDS",
        help="how long one test program may run in its guest (default: timeout= from "
        "selftests/vm/settings); also spelled --timeout where pytest-timeout is not installed",
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


def preset_names() -> str:
    """'6.1, 6.12, ...': the Debian presets --kernel debian:NAME takes."""
    try:
        return ", ".join(load_presets(PRESETS))
    except (OSError, ValueError, KeyError):
        return f"those of {PRESETS}"


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
    memory = parse_size_mb(opt.residency_memory or DEFAULT_MEMORY, "--memory")
    if memory < MIN_MEMORY_MB:
        raise InfraError(
            f"--memory {opt.residency_memory} is too small to boot", "use --memory 128M or more"
        )
    swap = parse_size_mb(opt.residency_swap, "--swap")
    if opt.residency_smp is not None and opt.residency_smp < 1:
        raise InfraError(f"--smp {opt.residency_smp} is not a CPU count", "use --smp 1 or more")
    timeout, spelled = program_timeout(config)
    if timeout is not None and timeout <= 0:
        raise InfraError(f"{spelled} {timeout} is not positive", f"use {spelled} 60 or more")
    if opt.residency_boot_timeout <= 0:
        raise InfraError(
            f"--boot-timeout {opt.residency_boot_timeout} is not positive", "use 60 or more"
        )
    kernels = tuple(parse_kernel_option(value) for value in opt.residency_kernel)
    check_unique([k.label for k in kernels if k.label])
    if opt.residency_modules and len(kernels) != 1:
        raise InfraError(
            "--modules needs exactly one --kernel image to belong to",
            "pass one --kernel PATH with its --modules DIR",
        )
    subtests = tuple(parse_subtest(value) for value in opt.residency_subtest)
    return Options(
        baseline=Path(opt.residency_baseline) if opt.residency_baseline else None,
        subtests=subtests,
        bisect=opt.residency_bisect,
        kernels=kernels,
        modules=Path(opt.residency_modules) if opt.residency_modules else None,
        memory_mb=memory,
        swap_mb=swap,
        smp=opt.residency_smp,
        accel=opt.residency_accel,
        timeout=timeout,
        boot_timeout=opt.residency_boot_timeout,
        results=Path(opt.residency_results) if opt.residency_results else None,
        cache_dir=Path(opt.residency_cache_dir) if opt.residency_cache_dir else None,
        expectations=Path(opt.residency_expectations) if opt.residency_expectations else None,
        # Under --bisect a known failure must not make a bad commit look good.
        use_expectations=not opt.residency_no_expectations and not opt.residency_bisect,
        selftests=Path(opt.residency_selftests) if opt.residency_selftests else None,
        retry_failed=opt.residency_retry_failed and not opt.residency_bisect,
        refresh_kernels=opt.residency_refresh_kernels,
        merge_config=opt.residency_merge_config,
        machine=cast(MachineOption, opt.residency_machine),
        workers=given_workers(config),
        keyword=str(getattr(opt, "keyword", "") or ""),
        memory_given=opt.residency_memory is not None,
    )


def add_old_spellings(parser: pytest.Parser, plugins: pytest.PytestPluginManager) -> None:
    """After every plugin has added its options (pytest_load_initial_conftests): the old
    spelling of --program-timeout, where no plugin took the name."""
    if not plugins.hasplugin(TIMEOUT_PLUGIN):
        parser.getgroup(GROUP).addoption(
            OLD_TIMEOUT,
            dest=DEST + "old_timeout",
            default=None,
            type=int,
            metavar="SECONDS",
            help="the old spelling of --program-timeout (pytest-timeout's option where that "
            "plugin is installed)",
        )


def program_timeout(config: pytest.Config) -> tuple[int | None, str]:
    """--program-timeout, or its old spelling --timeout, and the spelling given.  With
    pytest-timeout installed, --timeout is that plugin's: a limit on each whole kernel x
    program test, boots included, that stops it without a result.  An old command line
    must not silently mean that."""
    opt = config.option
    if opt.residency_program_timeout is not None:
        return opt.residency_program_timeout, "--program-timeout"
    old = getattr(opt, DEST + "old_timeout", None)
    if old is not None:
        return old, OLD_TIMEOUT
    given = [a for a in config.invocation_params.args if str(a).split("=")[0] == OLD_TIMEOUT]
    if given and config.pluginmanager.hasplugin(TIMEOUT_PLUGIN):
        raise InfraError(
            "--timeout is pytest-timeout's option here (that plugin is installed): it would "
            "stop a whole kernel x program test, boots included, without a result",
            "give the per-program timeout as --program-timeout SECONDS (its new name); "
            "pytest-timeout's own limit, if you really want one, as -o timeout=SECONDS",
        )
    return None, "--program-timeout"


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
