"""Prepare a run: resolve kernels, build tests and images once, and write the plan workers read.

This is the build -> image half of the pipeline; the boot -> run -> report half reads the plan.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from . import baseline, expect
from .accel import choose_accel
from .build import build_selftests
from .cache import atomic_write_text, default_cache_dir
from .errors import InfraError
from .image import build_initramfs
from .kernel import Kernel, KernelIdentity, resolve_kernel
from .labels import KernelSpec, check_unique
from .options import Options
from .progress import SILENT, Progress
from .qemu import VmConfig, check_qemu


@dataclass(frozen=True)
class PlannedKernel:
    """A kernel of the run, with the initramfs built for it."""

    name: str
    image: str
    initramfs: str
    identity: KernelIdentity

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "initramfs": self.initramfs,
            "identity": self.identity.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedKernel:
        identity = KernelIdentity.from_json(data["identity"])
        return cls(data["name"], data["image"], data["initramfs"], identity)


@dataclass(frozen=True)
class Built:
    """Whether this run built the artifacts or found them in the cache."""

    selftests: bool
    initramfs: bool


@dataclass(frozen=True)
class Plan:
    """What every process of a run reads (plan.json): the kernels, programs and VM settings."""

    run_id: str
    run_dir: str
    results_root: str
    started: str
    vm: VmConfig
    accel_why: str
    qemu_version: str
    timeout: int
    programs: list[str]
    kernels: list[PlannedKernel]
    built: Built
    expectations: str | None
    retry_failed: bool
    baseline: str | None = None  # the baseline's summary.json
    subtests: list[str] = field(default_factory=list)  # PROGRAM:SUBTEST deciding the verdict
    bisect: bool = False

    def kernel(self, name: str) -> PlannedKernel:
        return next(k for k in self.kernels if k.name == name)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["vm"] = asdict(self.vm)
        data["built"] = asdict(self.built)
        data["kernels"] = [k.to_json() for k in self.kernels]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        values = dict(data)
        values["vm"] = VmConfig(**data["vm"])
        values["built"] = Built(**data["built"])
        values["kernels"] = [PlannedKernel.from_json(k) for k in data["kernels"]]
        return cls(**values)

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Plan:
        return cls.from_json(json.loads(path.read_text()))


def find_project_root() -> Path:
    for candidate in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (candidate / "selftests" / "vm").is_dir() and (candidate / "qemu-images").is_dir():
            return candidate
    raise InfraError(
        "cannot find the project tree (selftests/vm and qemu-images)",
        "run from the repository root, as tox does",
    )


def make_run_dir(results: Path, dry: bool = False) -> tuple[str, Path]:
    """Create results/<run-id>; with dry=True only check that it could be created."""
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    run_dir = results / run_id
    try:
        results.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
        if dry:
            run_dir.rmdir()
    except OSError as e:
        raise InfraError(
            f"results directory {results} is not writable ({e.strerror})",
            "pass --results DIR with a directory you can write",
        ) from None
    return run_id, run_dir


def prepare(
    opts: Options, log: Callable[[str], object] = print, progress: Progress = SILENT
) -> Plan:
    """Everything before the first boot.  Raises InfraError with a cause and a fix."""
    project = find_project_root()
    qemu_version = check_qemu()
    cache = opts.cache_dir or default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InfraError(
            f"cache directory {cache} cannot be created ({e.strerror})",
            "pass --cache-dir DIR or set RESIDENCY_CACHE to a writable directory",
        ) from None
    results = opts.results or project / "results"
    make_run_dir(results, dry=True)

    expectations = None
    if opts.use_expectations:
        path = opts.expectations or project / "expectations.toml"
        expect.load(path)  # a broken file stops the run here, not in a worker
        expectations = str(path.resolve())
    base = baseline.load(opts.baseline).path if opts.baseline else None
    presets = project / "qemu-images" / "kernel-presets.toml"
    kernels: list[Kernel] = []
    for wanted in opts.kernels or (KernelSpec(None),):
        spec = wanted.spec
        log(f"residency: kernel {spec or 'default (Debian cloud kernel of this host)'}")
        kernels.append(
            resolve_kernel(
                spec, opts.modules, cache, presets, opts.refresh_kernels, opts.merge_config,
                wanted.label, progress,
            )
        )  # fmt: skip
    check_unique([k.name for k in kernels])
    tests = build_selftests(opts.selftests or project / "selftests" / "vm", cache, progress)
    log(
        f"residency: selftests {'built' if tests.built_now else 'cached'} "
        f"({len(tests.programs)} programs)"
    )
    programs = list(tests.programs)
    if opts.subtests:
        unknown = sorted({p for p, _ in opts.subtests if p not in programs})
        if unknown:
            raise InfraError(
                f"--subtest names no program of the suite: {', '.join(unknown)}",
                "use one of " + ", ".join(programs),
            )
        programs = [p for p in programs if any(p == q for q, _ in opts.subtests)]
    init = project / "qemu-images" / "init"
    planned = []
    built_images = False
    for k in kernels:
        image = build_initramfs(k, tests, init, cache, swap=opts.swap_mb > 0)
        built_images |= image.built_now
        identity = replace(
            k.identity(),
            modules_loaded=",".join(image.modules),
            version=expect.kernel_version(k.version_string, k.version_string.split(" ")[0]),
        )
        planned.append(PlannedKernel(k.name, str(k.image), str(image.initramfs), identity))
    run_id, run_dir = make_run_dir(results)
    accel, why = choose_accel(opts.accel, kernels[0].image, cache)
    log(f"residency: accelerator {accel} ({why})")
    vm = VmConfig(
        memory_mb=opts.memory_mb,
        swap_mb=opts.swap_mb,
        smp=opts.smp,
        accel="kvm" if accel == "kvm" else "tcg",
        boot_timeout=float(opts.boot_timeout),
    )
    plan = Plan(
        run_id=run_id,
        run_dir=str(run_dir.resolve()),
        results_root=str(results.resolve()),
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        vm=vm,
        accel_why=why,
        qemu_version=qemu_version,
        timeout=opts.timeout or tests.timeout,
        programs=programs,
        kernels=planned,
        built=Built(selftests=tests.built_now, initramfs=built_images),
        expectations=expectations,
        retry_failed=opts.retry_failed,
        baseline=base,
        subtests=[f"{p}:{s}" for p, s in opts.subtests],
        bisect=opts.bisect,
    )
    plan.save(run_dir / "plan.json")
    return plan
