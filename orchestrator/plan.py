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
from .guestmem import load_program_memory
from .image import build_initramfs
from .kernel import Kernel, KernelIdentity, resolve_kernel
from .labels import KernelSpec, check_unique
from .machine import (
    MICROVM_MODULES,
    NO_CAPS,
    PC_MODULES,
    Requested,
    choose_machine,
    kernel_caps,
    proven_failure,
)
from .options import Options
from .parallel import choose, host_cores, selected
from .progress import SILENT, Progress
from .qemu import Machine, VmConfig, check_qemu
from .tsc import host_tsc_rate


@dataclass(frozen=True)
class SizedImage:
    """The initramfs of a kernel's guests of one RAM size, holding the programs that run
    in them (None: all), and its -M pc twin for a fallback ("" when there is none)."""

    memory_mb: int
    initramfs: str
    pc_initramfs: str
    programs: tuple[str, ...] | None
    lean: bool = False  # its programs fill its guest's RAM (VmConfig.lean)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["programs"] = None if self.programs is None else list(self.programs)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SizedImage:
        programs = data.get("programs")
        return cls(int(data["memory_mb"]), str(data["initramfs"]), str(data["pc_initramfs"]),
                   None if programs is None else tuple(programs),
                   bool(data.get("lean", False)))  # fmt: skip


@dataclass(frozen=True)
class PlannedKernel:
    """A kernel of the run, with the machine it boots on and the initramfs built for it.

    On microvm, `boot_image` is the PVH vmlinux and `initramfs` loads the virtio-mmio disk
    modules; `pc_initramfs` (the virtio-pci one) is there when the choice was automatic, for
    the fallback to -M pc should the microvm boot fail (see on_pc)."""

    name: str
    image: str
    initramfs: str
    identity: KernelIdentity
    machine: Machine = "pc"
    machine_why: str = ""
    boot_image: str = ""  # what -kernel gets; "" is the image itself
    pc_initramfs: str = ""
    images: tuple[SizedImage, ...] = ()  # per guest RAM size; none: one image of them all

    def has_program(self, program: str) -> bool:
        """Whether one of its guest images holds @program."""
        return not self.images or any(
            i.programs is None or program in i.programs for i in self.images
        )

    def for_memory(self, memory_mb: int) -> PlannedKernel:
        """This kernel with the initramfs of its guests of @memory_mb (on its machine)."""
        image = next((i for i in self.images if i.memory_mb == memory_mb), None)
        if image is None:
            return self
        if self.machine == "microvm":
            return replace(self, initramfs=image.initramfs, pc_initramfs=image.pc_initramfs)
        return replace(self, initramfs=image.pc_initramfs or image.initramfs)

    def lean_at(self, memory_mb: int) -> bool:
        """Whether its guests of @memory_mb are lean (their programs fill their RAM)."""
        return any(i.lean for i in self.images if i.memory_mb == memory_mb)

    @property
    def kernel_file(self) -> str:
        return self.boot_image or self.image

    @property
    def can_fall_back(self) -> bool:
        return self.machine == "microvm" and bool(self.pc_initramfs)

    def on_pc(self, why: str) -> PlannedKernel:
        """This kernel booted on -M pc instead, for @why."""
        return replace(self, machine="pc", machine_why=why, boot_image="",
                       initramfs=self.pc_initramfs or self.initramfs, pc_initramfs="")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "initramfs": self.initramfs,
            "identity": self.identity.to_json(),
            "machine": self.machine,
            "machine_why": self.machine_why,
            "boot_image": self.boot_image,
            "pc_initramfs": self.pc_initramfs,
            "images": [i.to_json() for i in self.images],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedKernel:
        identity = KernelIdentity.from_json(data["identity"])
        machine: Machine = "microvm" if data.get("machine") == "microvm" else "pc"
        return cls(
            data["name"], data["image"], data["initramfs"], identity, machine,
            str(data.get("machine_why", "")), str(data.get("boot_image", "")),
            str(data.get("pc_initramfs", "")),
            tuple(SizedImage.from_json(i) for i in data.get("images", [])),
        )  # fmt: skip


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
    cache: str = ""  # where a microvm boot's failure is remembered for the host's boot
    workers: int = 1  # VMs at once (pytest-xdist workers), and why that many, with vm.smp
    parallel_why: str = ""
    program_memory: dict[str, int] = field(default_factory=dict)  # MiB, where not vm's

    def memory_for(self, program: str) -> int:
        """The guest RAM (MiB) @program runs with."""
        return self.program_memory.get(program, self.vm.memory_mb)

    @property
    def grouped(self) -> bool:
        """Whether the workers take whole guests (see group()): when there are at least as
        many kernels as workers, so that each guest is booted once."""
        return self.workers > 1 and len(self.kernels) >= self.workers

    def group(self, kernel: str, program: str) -> str:
        """The guest a test runs in: its kernel and its guest RAM size."""
        return f"{kernel}/{self.memory_for(program)}M"

    def cases(self) -> list[tuple[str, str]]:
        """The (kernel, program) tests in the order they are handed out, longest first:
        the programs with a guest of their own size (the memory-pressure ones, the longest:
        started first, they do not end a parallel run alone), then per kernel the others,
        which share one guest; so a kernel costs two boots in one VM at a time.

        In a matrix (grouped), a worker takes a whole guest's tests at a time (group(), in
        this order: plugin.py's scheduler): each guest is booted once, by one worker.  Else,
        with W workers, pytest-xdist (one test ahead: --maxschedchunk 1) hands each worker
        two consecutive tests, then one test each time it finishes one: the first 2W are
        dealt so that each worker starts with one of the W longest.  (Fewer than 2W tests
        it deals round robin, which does that by itself.)"""
        own = [(k.name, p) for k in self.kernels for p in self.programs if p in self.program_memory]
        rest = [(k.name, p) for k in self.kernels for p in self.programs
                if p not in self.program_memory]  # fmt: skip
        order = own + rest
        w = self.workers
        if w > 1 and not self.grouped and len(order) >= 2 * w:
            head = order[: 2 * w]
            dealt = [head[i] for n in range(w) for i in (n, n + w) if i < len(head)]
            order = dealt + order[2 * w :]
        return order

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


def plan_machine(kernel: Kernel, requested: Requested, cache: Path) -> PlannedKernel:
    """The machine @kernel boots on, as a PlannedKernel whose initramfs is still to be built:
    machine.choose_machine from the image, its config and modules, and any microvm failure
    proven earlier on this host boot.  --machine pc reads nothing of the kernel."""
    identity = kernel.identity()
    if requested == "pc":
        choice = choose_machine(NO_CAPS, kernel.image, "pc")
    else:
        failed = proven_failure(cache, identity.image_sha256) if requested == "auto" else None
        choice = choose_machine(kernel_caps(kernel, cache), kernel.image, requested, failed)
    boot_image = str(choice.kernel_image) if choice.machine == "microvm" else ""
    return PlannedKernel(kernel.name, str(kernel.image), "", identity, choice.machine,
                         choice.reason, boot_image)  # fmt: skip


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
    run_id, run_dir = make_run_dir(results)
    accel, why = choose_accel(opts.accel, kernels[0].image, cache)
    log(f"residency: accelerator {accel} ({why})")
    program_memory = {}
    sizes = project / "qemu-images" / "guest-memory.toml"
    if not opts.memory_given:
        program_memory = load_program_memory(sizes, tuple(programs))
        program_memory = {p: m for p, m in program_memory.items() if m != opts.memory_mb}
    planned = []
    built_images = False
    swap = opts.swap_mb > 0
    for k in kernels:
        boot = plan_machine(k, opts.machine, cache)
        modules = MICROVM_MODULES if boot.machine == "microvm" else PC_MODULES
        # A guest image per guest RAM size, with only the programs -k selects on this
        # kernel that run in guests of that size: less for the kernel to unpack at each
        # boot, and less of the guest's RAM (and so of QEMU's) taken by the image.
        groups: dict[int, list[str]] = {opts.memory_mb: []}
        for p in programs:
            if selected(opts.keyword, [(k.name, p)]):
                groups.setdefault(program_memory.get(p, opts.memory_mb), []).append(p)
        images = []
        for memory_mb, chosen in groups.items():
            subset = tuple(chosen) if len(chosen) < len(tests.programs) else None
            image = build_initramfs(k, tests, init, cache, swap, modules, subset)
            built_images |= image.built_now
            pc = ""
            if boot.machine == "microvm" and opts.machine == "auto":
                fallback = build_initramfs(k, tests, init, cache, swap, programs=subset)
                built_images |= fallback.built_now
                pc = str(fallback.initramfs)
            # The programs guest-memory.toml sizes fill their guests' RAM: lean guests.
            lean = memory_mb != opts.memory_mb
            images.append(SizedImage(memory_mb, str(image.initramfs), pc, subset, lean))
        log(f"residency: {k.name} boots on {boot.machine_why}")
        identity = replace(
            boot.identity,
            modules_loaded=",".join(image.modules),
            version=expect.kernel_version(k.version_string, k.version_string.split(" ")[0]),
        )
        main = images[0]  # the run's --memory
        planned.append(
            replace(boot, initramfs=main.initramfs, pc_initramfs=main.pc_initramfs,
                    identity=identity, images=tuple(images))
        )  # fmt: skip
    tsc_khz = None
    if accel != "kvm" and any(k.machine == "microvm" for k in planned):
        rate = host_tsc_rate(cache)
        tsc_khz = rate.khz
        log(f"residency: microvm guests get tsc_early_khz={rate.describe()}")
    for program, mib in program_memory.items():
        if selected(opts.keyword, ((k.name, program) for k in planned)):
            log(f"residency: {program} runs in a guest of {mib} MiB ({sizes.name})")
    items = selected(opts.keyword, ((k.name, p) for k in planned for p in programs))
    par = choose(items, host_cores(), opts.workers, opts.smp)
    log(f"residency: {par.workers} VM{'s' if par.workers > 1 else ''} at once, "
        f"{par.smp} vCPU{'s' if par.smp > 1 else ''} each ({par.why})")  # fmt: skip
    vm = VmConfig(
        memory_mb=opts.memory_mb,
        swap_mb=opts.swap_mb,
        smp=par.smp,
        accel="kvm" if accel == "kvm" else "tcg",
        boot_timeout=float(opts.boot_timeout),
        tsc_khz=tsc_khz,
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
        cache=str(cache.resolve()),
        workers=par.workers,
        parallel_why=par.why,
        program_memory=program_memory,
    )
    plan.save(run_dir / "plan.json")
    return plan
