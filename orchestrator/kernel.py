"""Step 1: find the kernel to test (a Debian package fetched with apt, or an image path)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .cache import publish_dir, sha256_file
from .errors import InfraError

DEBIAN_META_PACKAGE = "linux-image-cloud-amd64"


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
    return (path / "modules.order").is_file() or (path / "modules.dep").is_file()


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


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InfraError(
            f"{cmd[0]} is not installed",
            "the default kernel comes from Debian's archive: run on Debian, or pass --kernel PATH",
        ) from None
    if out.returncode != 0:
        msg = (out.stderr or out.stdout).strip().splitlines()
        raise InfraError(
            f"'{' '.join(cmd)}' failed: {msg[-1] if msg else f'exit {out.returncode}'}",
            "run 'apt-get update' (as root) so apt knows the kernel packages, "
            "or pass --kernel PATH",
        )
    return out.stdout


def resolve_debian_default() -> tuple[str, str]:
    """The unsigned cloud kernel package the host's suite currently ships, and its version."""
    deps = _run(["apt-cache", "depends", "--important", DEBIAN_META_PACKAGE])
    match = re.search(r"Depends:\s+(linux-image-\S+)", deps)
    if not match:
        raise InfraError(
            f"apt knows no kernel behind {DEBIAN_META_PACKAGE}",
            "run 'apt-get update' (as root), or pass --kernel PATH",
        )
    package = match.group(1)
    if not package.endswith("-unsigned"):
        package += "-unsigned"
    show = _run(["apt-cache", "show", "--no-all-versions", package])
    version = re.search(r"^Version:\s*(\S+)", show, re.M)
    if not version:
        raise InfraError(f"apt knows no version of {package}", "run 'apt-get update' (as root)")
    return package, version.group(1)


def fetch_debian_package(package: str, version: str, cache: Path) -> Kernel:
    """Download and unpack a Debian kernel package into the cache (once)."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{package}_{version}")
    final = cache / "kernels" / safe
    if not (final / ".complete").is_file():
        (cache / "kernels").mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache / "kernels", prefix=".fetch-"))
        try:
            _run(["apt-get", "download", f"{package}={version}"], cwd=staging)
            debs = list(staging.glob("*.deb"))
            if len(debs) != 1:
                raise InfraError(
                    f"apt-get download {package} gave {len(debs)} files",
                    "run 'apt-get update' and retry",
                )
            tree = staging / "tree"
            _run(["dpkg-deb", "-x", str(debs[0]), str(tree)])
            debs[0].unlink()
            (tree / ".complete").write_text(f"{package} {version}\n")
            publish_dir(tree, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    images = sorted((final / "boot").glob("vmlinuz-*"))
    if len(images) != 1:
        raise InfraError(
            f"package {package} {version} holds {len(images)} kernel images",
            f"remove {final} and retry",
        )
    release = images[0].name.removeprefix("vmlinuz-")
    modules = final / "lib" / "modules" / release
    return Kernel(
        name=f"debian-{release}",
        image=images[0],
        modules_dir=modules if is_modules_dir(modules) else None,
        version_string=image_version_string(images[0]),
        source={"kind": "debian-package", "package": package, "package_version": version},
    )


def default_kernel(cache: Path) -> Kernel:
    package, version = resolve_debian_default()
    return fetch_debian_package(package, version, cache)
