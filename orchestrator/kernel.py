"""Step 1: find the kernel to test (a Debian package fetched with apt, or an image path)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .bzimage import image_version_string
from .cache import sha256_file
from .debian import FetchedKernel, fetch_host_default, fetch_preset, load_presets
from .errors import InfraError
from .labels import image_label, tree_label
from .progress import SILENT, Progress
from .source import TreeSource, build_tree


@dataclass(frozen=True)
class ImageSource:
    """A kernel given as the path of an image (and maybe its modules)."""

    path: str
    modules: str | None = None
    kind: Literal["image"] = field(default="image", init=False)


@dataclass(frozen=True)
class DebianSource:
    """A Debian cloud kernel package fetched with apt."""

    preset: str
    suite: str
    packages: str
    package_version: str
    config_sha256: str | None = None
    resolved: str = "apt"  # or how a cached resolution was reused, and why
    kind: Literal["debian-package"] = field(default="debian-package", init=False)


KernelSource = ImageSource | DebianSource | TreeSource
_SOURCES: dict[str, type[ImageSource] | type[DebianSource] | type[TreeSource]] = {
    "image": ImageSource,
    "debian-package": DebianSource,
    "source-tree": TreeSource,
}


def source_to_json(source: KernelSource) -> dict[str, str]:
    """'kind' first, then the fields that are known."""
    fields = {k: v for k, v in asdict(source).items() if v is not None and k != "kind"}
    return {"kind": source.kind} | fields


def source_from_json(data: dict[str, Any]) -> KernelSource:
    cls = _SOURCES[data["kind"]]
    return cls(**{k: v for k, v in data.items() if k != "kind"})


@dataclass(frozen=True)
class KernelIdentity:
    """Who a kernel is, as plan.json and summary.json tell it.  `modules_loaded` and
    `version` (the upstream version expectations compare) are filled in by the plan."""

    name: str
    image: str
    image_sha256: str
    version_string: str
    source: KernelSource
    modules_loaded: str = ""
    version: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "image": self.image,
            "image_sha256": self.image_sha256,
            "version_string": self.version_string,
            **source_to_json(self.source),
            "modules_loaded": self.modules_loaded,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KernelIdentity:
        own = ("name", "image", "image_sha256", "version_string", "modules_loaded", "version")
        source = source_from_json({k: v for k, v in data.items() if k not in own})
        return cls(source=source, **{k: str(data.get(k, "")) for k in own})


@dataclass(frozen=True)
class Kernel:
    """A kernel image ready to boot, with the modules directory it needs (if any)."""

    name: str
    image: Path
    modules_dir: Path | None
    version_string: str
    source: KernelSource

    def identity(self) -> KernelIdentity:
        return KernelIdentity(
            name=self.name,
            image=str(self.image),
            image_sha256=sha256_file(self.image),
            version_string=self.version_string,
            source=self.source,
        )


def is_modules_dir(path: Path) -> bool:
    markers = ("modules.order", "modules.dep", "modules.builtin")
    return any((path / m).is_file() for m in markers) or (path / "kernel").is_dir()


def find_modules_dir(path: Path) -> Path:
    """Accept lib/modules/<release>, or a root that contains exactly one lib/modules/<release>."""
    if is_modules_dir(path):
        return path
    candidates = [p for p in sorted(path.glob("lib/modules/*")) if is_modules_dir(p)]
    candidates += [p for p in sorted(path.glob("*")) if is_modules_dir(p)]
    if len(candidates) == 1:
        return candidates[0]
    raise InfraError(
        f"--modules {path} holds no single modules directory (no modules.order found"
        + (f"; {len(candidates)} candidates" if candidates else "")
        + ")",
        "pass --modules /lib/modules/<release> or the INSTALL_MOD_PATH root of the kernel build",
    )


def kernel_from_image(image: Path, modules: Path | None) -> Kernel:
    image = image.expanduser()
    if not image.exists():
        raise InfraError(
            f"kernel image {image} does not exist", "pass --kernel with the path of a bzImage"
        )
    if image.is_dir():
        raise InfraError(
            f"--kernel {image} is a directory, not a kernel image",
            "pass the image inside it, e.g. --kernel arch/x86/boot/bzImage",
        )
    version = image_version_string(image)
    modules_dir = find_modules_dir(modules.expanduser()) if modules else None
    name = image_label(image)
    source = ImageSource(str(image.resolve()), str(modules_dir.resolve()) if modules_dir else None)
    return Kernel(name, image.resolve(), modules_dir, version, source)


def kernel_from_debian(fetched: FetchedKernel, preset: str | None) -> Kernel:
    tree = fetched.tree
    # 6.x packages: boot/vmlinuz-<release>; 7.x: usr/lib/modules/<release>/vmlinuz*.
    images = sorted(tree.glob("boot/vmlinuz-*")) + sorted(tree.glob("usr/lib/modules/*/vmlinuz*"))
    if len(images) != 1:
        raise InfraError(
            f"{tree} holds {len(images)} kernel images (expected one)",
            f"remove {tree} and run again",
        )
    if images[0].parent.name == "boot":
        release = images[0].name.removeprefix("vmlinuz-")
    else:
        release = images[0].parent.name
    modules = next(
        (d for d in (tree / "lib/modules" / release, tree / "usr/lib/modules" / release)
         if is_modules_dir(d)),
        None,
    )  # fmt: skip
    configs = sorted(tree.glob("boot/config-*")) + sorted(tree.glob("usr/lib/modules/*/config"))
    version = fetched.packages[0][1]
    short = ".".join(re.split(r"[.~-]", version)[:2])
    source = DebianSource(
        preset=f"debian:{preset}" if preset else "host default",
        suite=fetched.suite,
        packages=" ".join(f"{p}={v}" for p, v in fetched.packages),
        package_version=version,
        config_sha256=sha256_file(configs[0]) if configs else None,
        resolved=fetched.resolved,
    )
    return Kernel(
        name=f"debian-{preset or short}",
        image=images[0],
        modules_dir=modules,
        version_string=image_version_string(images[0]),
        source=source,
    )


def resolve_kernel(
    spec: str | None,
    modules: Path | None,
    cache: Path,
    presets: Path,
    refresh: bool = False,
    merge_config: bool = False,
    label: str | None = None,
    progress: Progress = SILENT,
) -> Kernel:
    """--kernel VALUE: none (the host suite's Debian kernel), debian:NAME, the path of a
    kernel source tree (a directory: built here) or of a kernel image (a file).  Debian
    kernels are resolved through apt once per change of its lists, unless @refresh.
    @label, when given, is the kernel's name (see labels.py for the defaults)."""
    kernel = _resolve(spec, modules, cache, presets, refresh, merge_config, progress)
    return kernel if label is None else replace(kernel, name=label)


def _resolve(
    spec: str | None, modules: Path | None, cache: Path, presets: Path, refresh: bool,
    merge_config: bool, progress: Progress,
) -> Kernel:  # fmt: skip
    if spec is None:
        return kernel_from_debian(fetch_host_default(cache, refresh, progress), None)
    if spec.startswith("debian:"):
        name = spec.removeprefix("debian:")
        known = load_presets(presets)
        if name not in known:
            raise InfraError(
                f"unknown kernel preset {spec!r}",
                "use one of " + ", ".join(f"debian:{n}" for n in known),
            )
        return kernel_from_debian(fetch_preset(known[name], cache, refresh, progress), name)
    path = Path(spec).expanduser()
    if path.is_dir():
        project = presets.parent.parent
        guest, tests = project / "qemu-images/kernel.config", project / "selftests/vm/config"
        built = build_tree(path, guest, tests, cache, cache / "logs", merge_config, progress)
        return Kernel(
            tree_label(path), built.image, built.modules_dir, built.version_string, built.source
        )
    return kernel_from_image(path, modules)
