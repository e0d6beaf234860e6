"""Step 1: find the kernel to test (a Debian package fetched with apt, or an image path)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .cache import sha256_file
from .debian import FetchedKernel, fetch_host_default, fetch_preset, load_presets
from .errors import InfraError


@dataclass(frozen=True)
class Kernel:
    """A kernel image ready to boot, with the modules directory it needs (if any)."""

    name: str
    image: Path
    modules_dir: Path | None
    version_string: str
    source: dict[str, str] = field(default_factory=dict)

    def identity(self) -> dict[str, str]:
        ident = {
            "name": self.name,
            "image": str(self.image),
            "image_sha256": sha256_file(self.image),
            "version_string": self.version_string,
        }
        ident.update(self.source)
        return ident


def image_version_string(image: Path) -> str:
    """The version string embedded in an x86 bzImage's setup header, or raise InfraError."""
    try:
        with image.open("rb") as f:
            head = f.read(0x8000)
    except OSError as e:
        raise InfraError(
            f"kernel image {image} cannot be read ({e.strerror})",
            "pass --kernel with a readable bzImage/vmlinuz file",
        ) from None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        raise InfraError(
            f"{image} is not an x86 bzImage (no 'HdrS' boot header)",
            "pass --kernel arch/x86/boot/bzImage or a /boot/vmlinuz-* file",
        )
    offset = int.from_bytes(head[0x20E:0x210], "little")
    start = offset + 0x200
    if offset == 0 or start >= len(head):
        return ""
    raw = head[start : start + 256].split(b"\0", 1)[0]
    return raw.decode("ascii", "replace").strip()


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
    release = version.split(" ", 1)[0] if version else image.name
    modules_dir = find_modules_dir(modules.expanduser()) if modules else None
    name = re.sub(r"[^A-Za-z0-9_+.-]", "_", release) or "kernel"
    source = {"kind": "image", "path": str(image.resolve())}
    if modules_dir:
        source["modules"] = str(modules_dir.resolve())
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
    source = {
        "kind": "debian-package",
        "preset": f"debian:{preset}" if preset else "host default",
        "suite": fetched.suite,
        "packages": " ".join(f"{p}={v}" for p, v in fetched.packages),
        "package_version": version,
        "resolved": fetched.resolved,
    }
    if configs:
        source["config_sha256"] = sha256_file(configs[0])
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
) -> Kernel:
    """--kernel VALUE: none (the host suite's Debian kernel), debian:NAME, the path of a
    kernel source tree (a directory: built here) or of a kernel image (a file).  Debian
    kernels are resolved through apt once per change of its lists, unless @refresh."""
    if spec is None:
        return kernel_from_debian(fetch_host_default(cache, refresh), None)
    if spec.startswith("debian:"):
        name = spec.removeprefix("debian:")
        known = load_presets(presets)
        if name not in known:
            raise InfraError(
                f"unknown kernel preset {spec!r}",
                "use one of " + ", ".join(f"debian:{n}" for n in known),
            )
        return kernel_from_debian(fetch_preset(known[name], cache, refresh), name)
    path = Path(spec).expanduser()
    if path.is_dir():
        from .source import build_tree  # a source tree: configure and build it

        project = presets.parent.parent
        guest, tests = project / "qemu-images/kernel.config", project / "selftests/vm/config"
        return build_tree(path, guest, tests, cache, cache / "logs", merge_config)
    return kernel_from_image(path, modules)
