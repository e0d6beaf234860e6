"""Build a kernel from a directory the developer gives, the way they build it.

A pristine tree is configured in an output directory in the cache (make O=..., keyed by the
tree's path: x86_64_defconfig plus our fragments), so it stays clean.  A configured tree, a
tree built in place, or a make O= build directory is built where it is, with the
developer's own .config, after checking that it has what the tests and the guest need:
nothing in it is changed beyond kbuild's own `make olddefconfig`, unless --merge-config
asks to add the missing options (a backup of the .config is kept).  An image newer than
everything it was built from is used as it is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .bzimage import image_version_string
from .cache import sha256_file
from .errors import InfraError
from .makewatch import BuildTimes, LastBuild, run_watched
from .progress import SILENT, Progress
from .tree import (
    TreeShape,
    detect,
    effective_config,
    first_error,
    image_is_current,
    merge_command,
    parse_config,
    unmet,
    wants_modules,
)


@dataclass(frozen=True)
class TreeSource:
    """Where a kernel built from a source tree came from (its part of the report's kernel)."""

    tree: str
    build_dir: str
    config_sha256: str
    build_log: str
    shape: str  # pristine, configured, built, objdir (tree.TreeShape.kind)
    build_seconds: str | None = None  # None when nothing was built
    build: str | None = None  # why nothing was built
    olddefconfig: str | None = None  # set when olddefconfig changed the .config
    config_merged: str | None = None  # set when --merge-config added options
    git_commit: str | None = None
    kind: Literal["source-tree"] = field(default="source-tree", init=False)


@dataclass(frozen=True)
class TreeBuild:
    """A kernel image built from a source tree, with the modules the guest loads (if any)."""

    image: Path
    version_string: str
    source: TreeSource
    modules_dir: Path | None = None


def read_fragments(fragments: list[Path]) -> dict[str, str]:
    """What the config fragments ask for, later fragments winning (tree.parse_config)."""
    wanted: dict[str, str] = {}
    for fragment in fragments:
        wanted.update(parse_config(fragment.read_text()))
    return wanted


def missing_options(config_text: str, wanted: dict[str, str]) -> list[str]:
    """Options of the fragments that the final .config does not have as asked."""
    have = parse_config(config_text)
    return sorted(name for name, value in wanted.items() if have.get(name) != value)


def _fix_for(error: str, shape: TreeShape, log: Path) -> str:
    if "not clean" in error or "mrproper" in error:
        return (
            f"the tree {shape.source} holds an in-place build or .config, so it cannot also "
            "be built elsewhere: pass the tree itself or its own make O= directory"
        )
    if "error:" in error:
        return f"fix that error in {shape.source} (the whole log: {log})"
    if "not found" in error or "No such file" in error:
        return f"install what is missing (gcc make flex bison bc libelf-dev libssl-dev); {log}"
    return f"read {log}"


def _make(
    shape: TreeShape,
    log: Path,
    *args: str,
    progress: Progress = SILENT,
    times: BuildTimes | None = None,
) -> None:
    """make in the tree (in place) or for its build directory, its output in @log only;
    @progress shows what it is doing and, with @times, the estimate from the last build."""
    where = ["-C", str(shape.source)]
    if shape.objdir != shape.source:
        where.append(f"O={shape.objdir}")
    cmd = ["make", *where, f"-j{os.cpu_count() or 1}", *args]
    last = times.get(shape.objdir) if times is not None else None
    title = f"kernel {shape.source.name}: make {' '.join(a for a in args if '=' not in a)}"
    start = log.stat().st_size if log.exists() else 0
    with progress.task("kbuild", title) as task:
        code, objects = run_watched(cmd, log, task, last)
        took = task.elapsed
        if code != 0:
            with log.open(errors="replace") as f:
                f.seek(start)
                error = first_error(f.read())
            fix = _fix_for(error, shape, log)
            raise InfraError(
                f"'make {' '.join(args)}' failed for the {shape.describe()}: {error}",
                fix,
                untestable=not fix.startswith("install what is missing"),
            )
        task.finish(f"{objects} objects" if objects else "done")
    if times is not None and (last is None or objects * 2 >= last.objects):
        # A whole build, not a few objects rebuilt: the estimate of the next one.
        times.put(shape.objdir, LastBuild(took, objects))


def _check_tools() -> None:
    for tool in ("make", "gcc", "flex", "bison", "bc"):
        if shutil.which(tool) is None:
            raise InfraError(
                f"{tool} is not installed (needed to build a kernel)",
                "apt-get install gcc make flex bison bc libelf-dev libssl-dev",
            )


def build_tree(
    path: Path,
    guest: Path,
    tests: Path,
    cache: Path,
    log_dir: Path,
    merge_config: bool = False,
    progress: Progress = SILENT,
) -> TreeBuild:
    """A kernel from a source directory of any shape.  @guest and @tests are the fragments
    of what the guest and the tests need (qemu-images/kernel.config, selftests/vm/config)."""
    shape = detect(path)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"kbuild-{shape.source.name}.log"
    if shape.kind == "pristine":
        return _build_pristine(shape, [guest, tests], cache, log, progress)
    return _build_theirs(shape, guest, tests, cache, log, merge_config, progress)


def _build_pristine(
    shape: TreeShape, fragments: list[Path], cache: Path, log: Path, progress: Progress
) -> TreeBuild:
    """A clean tree: build it in the cache with x86_64_defconfig and our fragments."""
    _check_tools()
    out = cache / "kbuild" / hashlib.sha256(str(shape.source).encode()).hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    build = TreeShape("objdir", shape.source, out)
    config = build.config
    if not config.is_file():
        _make(build, log, "x86_64_defconfig", progress=progress)
    wanted = read_fragments(fragments)
    if missing_options(config.read_text(), wanted):
        with config.open("a") as f:
            f.write("\n# merged by residency-kselftest\n")
            f.writelines(f"{k}={v}\n" for k, v in wanted.items())
        _make(build, log, "olddefconfig", progress=progress)
    missing = missing_options(config.read_text(), wanted)
    if missing:
        raise InfraError(
            f"the config of {shape.source} cannot enable {', '.join(missing)} (unmet "
            "dependencies or options this tree does not have)",
            f"enable their dependencies in {config} (make -C {shape.source} O={out} "
            "menuconfig), or use a tree that has them",
            untestable=True,
        )
    facts = {"shape": "pristine"}
    if image_is_current(build):
        facts["build"] = "reused: the image is newer than its .config and every source file"
        progress.say(f"kernel {shape.source.name}: nothing to build ({facts['build']})")
        return _built(build, log, facts, None)
    start = time.monotonic()
    _make(build, log, "bzImage", progress=progress, times=BuildTimes(cache))
    facts["build_seconds"] = f"{time.monotonic() - start:.0f}"
    return _built(build, log, facts, None)


def _build_theirs(
    shape: TreeShape,
    guest: Path,
    tests: Path,
    cache: Path,
    log: Path,
    merge_config: bool,
    progress: Progress,
) -> TreeBuild:
    """The developer's configured or built tree (or O= directory), built where it is with
    their .config."""
    config = effective_config(shape)
    modules_needed = wants_modules(config)
    missing = unmet(config, tests, guest, modules_ok=True)
    facts: dict[str, str] = {"shape": shape.kind}
    if missing and merge_config:
        backup = shape.config.with_name(f".config.residency-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(shape.config, backup)
        _check_tools()
        merge = [str(shape.source / "scripts/kconfig/merge_config.sh"), "-m"]
        if shape.objdir != shape.source:
            merge += ["-O", str(shape.objdir)]
        merge += [str(shape.config), str(tests), str(guest)]
        with log.open("a") as f:
            done = subprocess.run(merge, cwd=shape.objdir, stdout=f, stderr=subprocess.STDOUT,
                                  check=False)  # fmt: skip
        if done.returncode != 0:
            raise InfraError(
                f"merge_config.sh failed for the {shape.describe()}", f"read {log}", untestable=True
            )
        facts["config_merged"] = f"missing options added; the old .config is {backup}"
        missing = []
    if missing:
        names = ", ".join(f"{r.option}={r.wanted} (has {r.have})" for r in missing)
        raise InfraError(
            f"the .config of the {shape.describe()} lacks what the tests or the guest need: "
            f"{names}",
            f"add them: {merge_command(shape, [tests, guest])}; or pass --merge-config to "
            "have that done (a backup of the .config is kept)",
        )
    if not merge_config and image_is_current(shape):
        facts["build"] = "reused: the image is newer than its .config and every source file"
        progress.say(f"kernel {shape.source.name}: nothing to build ({facts['build']})")
        return _built(
            shape, log, facts, _modules(shape, cache, log, progress) if modules_needed else None
        )
    _check_tools()
    before = shape.config.read_bytes()
    _make(shape, log, "olddefconfig", progress=progress)
    if shape.config.read_bytes() != before:
        facts["olddefconfig"] = "changed the .config (the tree's Kconfig changed since it was made)"
    start = time.monotonic()
    targets = ["bzImage", *(["modules"] if modules_needed else [])]
    _make(shape, log, *targets, progress=progress, times=BuildTimes(cache))
    facts["build_seconds"] = f"{time.monotonic() - start:.0f}"
    modules = _modules(shape, cache, log, progress) if modules_needed else None
    return _built(shape, log, facts, modules)


def _modules(shape: TreeShape, cache: Path, log: Path, progress: Progress) -> Path:
    """Install the tree's modules into the cache (the guest loads its disk drivers)."""
    root = cache / "kmods" / hashlib.sha256(str(shape.objdir).encode()).hexdigest()[:16]
    stamp = root / ".installed"
    image = shape.image
    if not (stamp.is_file() and stamp.stat().st_mtime >= image.stat().st_mtime):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _make(shape, log, f"INSTALL_MOD_PATH={root}", "modules_install", progress=progress)
        stamp.write_text("")
    releases = sorted((root / "lib/modules").iterdir())
    return releases[-1]


def _built(shape: TreeShape, log: Path, facts: dict[str, str], modules: Path | None) -> TreeBuild:
    git = subprocess.run(
        ["git", "-C", str(shape.source), "rev-parse", "HEAD"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    source = TreeSource(
        tree=str(shape.source),
        build_dir=str(shape.objdir),
        config_sha256=sha256_file(shape.config),
        build_log=str(log),
        git_commit=git.stdout.strip() if git.returncode == 0 else None,
        **facts,
    )
    return TreeBuild(shape.image, image_version_string(shape.image), source, modules)
