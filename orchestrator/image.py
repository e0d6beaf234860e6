"""Step 3: the guest image, a busybox initramfs holding /init, the disk modules and /tests."""

from __future__ import annotations

import contextlib
import gzip
import lzma
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .build import TestBuild
from .cache import atomic_write_bytes, hash_files
from .errors import InfraError
from .kernel import Kernel

# What a -M pc guest needs to reach its swap disk: the virtio block driver and the PCI
# transport (a microvm guest's are machine.MICROVM_MODULES).
GUEST_MODULES = ("virtio_blk", "virtio_pci")
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))


def _norm(name: str) -> str:
    return name.replace("-", "_")


def _module_name(path: str) -> str:
    base = Path(path).name
    return _norm(base.split(".ko", 1)[0])


def _modinfo_depends(data: bytes) -> list[str]:
    """The `depends=` list from a module's .modinfo strings."""
    at = data.find(b"\0depends=")
    if at < 0:
        return []
    value = data[at + len(b"\0depends=") : data.index(b"\0", at + 1)]
    return [_norm(n) for n in value.decode("ascii", "replace").split(",") if n]


def resolve_modules(modules_dir: Path, wanted: tuple[str, ...] = GUEST_MODULES) -> list[Path]:
    """The module files to load for `wanted`, dependencies first; built-ins are left out.

    Dependencies come from each module's own .modinfo, so a package that ships no
    modules.dep (Debian's run depmod at install time) works too."""
    files = {_module_name(p.name): p for p in modules_dir.rglob("*.ko*") if p.is_file()}
    builtin_file = modules_dir / "modules.builtin"
    # Without a modules.builtin (Debian 7.x packages ship none), a module that is not
    # there as a file is taken to be built in; the guest's swap check tells if it is not.
    known_builtins = builtin_file.is_file()
    builtin = set()
    if known_builtins:
        builtin = {_module_name(line) for line in builtin_file.read_text().split()}
    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str, needed_by: str) -> None:
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in files:
            if not known_builtins:
                return
            raise InfraError(
                f"{modules_dir} has no module {name} (needed by {needed_by}) and the kernel "
                "does not list it as built in",
                "build the kernel with CONFIG_VIRTIO_BLK=y and CONFIG_VIRTIO_PCI=y, or pass "
                "--modules with the modules of this exact kernel",
            )
        for dep in _modinfo_depends(read_module(files[name])):
            visit(dep, name)
        order.append(files[name])

    for name in wanted:
        visit(_norm(name), "the guest's swap disk")
    return order


def read_module(path: Path) -> bytes:
    """A module's ELF bytes; compressed modules are unpacked on the host."""
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zst":
        if shutil.which("zstd") is None:
            raise InfraError(f"{path.name} is zstd-compressed", "apt-get install zstd")
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return data


def _is_static_elf(path: Path) -> bool:
    """True when the ELF file has no program interpreter (PT_INTERP), i.e. needs no libc."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        entry = phoff + i * phentsize
        if int.from_bytes(data[entry : entry + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if candidate.is_file() and _is_static_elf(candidate):
            return candidate
    raise InfraError(
        "no statically linked busybox found (the guest has no libc)",
        "apt-get install busybox-static",
    )


class CpioWriter:
    """A minimal writer of the newc cpio format the kernel unpacks as initramfs."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._ino = 1

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        fields = [
            self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0,
        ]  # fmt: skip
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._out += header + name.encode() + b"\0"
        self._out += b"\0" * (-len(self._out) % 4)
        self._out += data
        self._out += b"\0" * (-len(self._out) % 4)

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return bytes(self._out) + b"\0" * (-len(self._out) % 512)


@dataclass(frozen=True)
class GuestImage:
    initramfs: Path
    modules: tuple[str, ...]
    built_now: bool


def build_initramfs(
    kernel: Kernel,
    tests: TestBuild,
    init: Path,
    cache: Path,
    swap: bool,
    wanted: tuple[str, ...] = GUEST_MODULES,
    programs: tuple[str, ...] | None = None,
) -> GuestImage:
    """Assemble the initramfs for one kernel, with the modules @wanted (and their
    dependencies) that the guest's machine needs for its disk, and of the test programs only
    @programs when given (the kernel unpacks every byte of the image at each boot: a run of
    one program boots faster without the other fifteen); unchanged inputs give the cached
    file."""
    busybox = find_busybox()
    modules = resolve_modules(kernel.modules_dir, wanted) if kernel.modules_dir else []
    inputs = [init, busybox, *modules]
    only = "" if programs is None else " programs=" + ",".join(sorted(programs))
    key = hash_files(inputs, extra=f"{tests.digest} swap={swap}{only} format=1")
    target = cache / "initramfs" / f"{key[:24]}.cpio"
    names = tuple(m.name for m in modules)
    if target.is_file():
        with contextlib.suppress(OSError):
            # Used now (its access time; the mtime stays, ahead.py identifies files by it):
            # prune() keeps the most recently used.
            os.utime(target, ns=(time.time_ns(), target.stat().st_mtime_ns))
        return GuestImage(target, names, built_now=False)

    cpio = CpioWriter()
    for d in ("bin", "dev", "etc", "etc/residency", "lib", "lib/modules", "proc", "sys",
              "tmp", "run", "tests"):  # fmt: skip
        cpio.dir(d)
    cpio.char_device("dev/console", 5, 1)
    cpio.file("init", init.read_bytes(), 0o755)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    load_order = []
    for i, module in enumerate(modules):
        name = f"{i:02d}-{_module_name(module.name)}.ko"
        cpio.file(f"lib/modules/{name}", read_module(module))
        load_order.append(name)
    cpio.file("etc/residency/modules", "".join(f"{n}\n" for n in load_order).encode())
    if swap:
        cpio.file("etc/residency/swap", b"/dev/vda\n")
    for path in sorted(tests.install_dir.rglob("*")):
        rel = path.relative_to(tests.install_dir)
        if path.name == ".complete":
            continue
        if programs is not None and path.name in tests.programs and path.name not in programs:
            continue
        if path.is_dir():
            cpio.dir(f"tests/{rel}")
        else:
            executable = path.stat().st_mode & 0o111
            cpio.file(f"tests/{rel}", path.read_bytes(), 0o755 if executable else 0o644)
    atomic_write_bytes(target, cpio.finish())
    prune(target.parent)
    return GuestImage(target, names, built_now=True)


# Guest images kept in the cache: one per kernel, machine and set of programs a run asked
# for (each -k makes one), so they are pruned, the least recently used first.
KEEP_IMAGES = 100
# An image used this recently may be about to boot in another run: never pruned.
PRUNE_GRACE = 3600.0


def prune(directory: Path, keep: int = KEEP_IMAGES, grace: float = PRUNE_GRACE) -> int:
    """Delete the initramfs files of @directory beyond the @keep most recently used (a
    build sets a file's mtime, a reuse its access time), except those used within @grace
    seconds.  Returns how many were deleted; a file that cannot be read or deleted is left
    alone."""
    dated = []
    for path in directory.glob("*.cpio"):
        with contextlib.suppress(OSError):
            st = path.stat()
            dated.append((max(st.st_mtime, st.st_atime), path))
    dated.sort(reverse=True)
    now, deleted = time.time(), 0
    for mtime, path in dated[keep:]:
        if now - mtime > grace:
            with contextlib.suppress(OSError):
                path.unlink()
                deleted += 1
    return deleted
