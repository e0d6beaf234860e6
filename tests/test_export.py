"""`make -C selftests/vm export KSRC=<tree>` on a real upstream tree.

The parts of Debian's linux-source-<version> that the mm selftests build needs are fetched
once into the cache (orchestrator.upstream.fetch_mm_tree, `make headers` included) and
copied for each test.  Upstream's mm selftests are built before the export (which programs
built is recorded: some need -dev packages, some do not build in a given tree at all), the
export is run, the mm selftests are built again with upstream's Makefile, lib.mk,
kselftest.h and vm_util; then our programs must have built without a warning, every
upstream program that built before must still build, run_vmtests.sh must list and run the
"residency" category, and a second export must change nothing.

CI runs 6.12 (the faster build); 7.3 runs with --run-slow.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.errors import InfraError
from orchestrator.upstream import fetch_mm_tree

ROOT = Path(__file__).resolve().parent.parent
VM = ROOT / "selftests" / "vm"
MM = Path("tools/testing/selftests/mm")


def _our_programs() -> list[str]:
    """Our programs as the export names them: selftests/vm/Makefile's TEST_GEN_PROGS."""
    text = (VM / "Makefile").read_text()
    names = [n for m in re.finditer(r"^TEST_GEN_PROGS\s*\+?=(.*)$", text, re.M)
             for n in m.group(1).split()]  # fmt: skip
    return [n if n != "madv_populate" else "madv_populate_residency" for n in names]


OURS = _our_programs()

OUR_SOURCES = {f"{n}.c" for n in OURS} | {"residency_util.c", "residency_util.h"}
# file:line:col: warning|error, as gcc prints them
DIAGNOSTIC_RE = re.compile(r"^(?:[^\s:]*/)?([^/\s:]+):\d+:(?:\d+:)? (warning|error):", re.M)


@dataclass
class Build:
    programs: set[str]
    log: str


def _programs(mm: Path) -> set[str]:
    """The ELF executables in the mm directory: the programs that built."""
    found = set()
    for f in mm.iterdir():
        if f.is_file() and not f.is_symlink():
            with f.open("rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    found.add(f.name)
    return found


def _build(tree: Path) -> Build:
    proc = subprocess.run(
        ["make", "-C", str(tree / MM), "-j2", "-k", "V=1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return Build(_programs(tree / MM), proc.stdout + proc.stderr)


def _export(tree: Path) -> str:
    proc = subprocess.run(
        ["make", "-s", "-C", str(VM), "export", f"KSRC={tree}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"export failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def _snapshot(mm: Path) -> dict[str, tuple[int, int, str]]:
    """Every source-side file of mm/: its mode, mtime and content hash."""
    return {
        f.name: (f.stat().st_mode, f.stat().st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest())
        for f in mm.iterdir()
        if f.is_file() and f.suffix in {".c", ".h", ".sh", ""} and f.name not in _programs(mm)
    }


@dataclass
class Exported:
    version: str
    tree: Path
    before: Build
    after: Build
    first: str


@pytest.fixture(scope="module", params=["6.12", pytest.param("7.3", marks=pytest.mark.slow)])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    version: str = request.param
    try:
        cached = fetch_mm_tree(version)
    except InfraError as e:
        pytest.fail(f"cannot get linux-source-{version}: {e} ({e.fix})", pytrace=False)
    tree = tmp_path_factory.mktemp(f"linux-{version}")
    shutil.copytree(cached.path, tree, symlinks=True, dirs_exist_ok=True)
    before = _build(tree)
    first = _export(tree)
    after = _build(tree)
    return Exported(version, tree, before, after, first)


def test_upstream_built_before(exported: Exported) -> None:
    assert exported.before.programs, f"nothing built before the export:\n{exported.before.log}"
    assert not exported.before.programs & set(OURS)


def test_ours_build_warning_free(exported: Exported) -> None:
    missing = sorted(set(OURS) - exported.after.programs)
    assert not missing, f"not built: {missing}\n{exported.after.log}"
    ours = [m.group(0) for m in DIAGNOSTIC_RE.finditer(exported.after.log)
            if m.group(1) in OUR_SOURCES]  # fmt: skip
    assert not ours, "\n".join(ours)
    for name in OURS:  # built with the mm Makefile's flags, upstream's vm_util linked in
        commands = [line for line in exported.after.log.splitlines()
                    if f" {name}.c " in line and f"/{name} " in line + " "]  # fmt: skip
        assert commands, f"no command line builds {name}:\n{exported.after.log}"
        assert all(" -Wall " in c and " vm_util.c " in c for c in commands), commands


def test_upstream_still_builds(exported: Exported) -> None:
    lost = sorted(exported.before.programs - exported.after.programs)
    assert not lost, f"built before the export, not after: {lost}\n{exported.after.log}"
    # shown with -rA: the comparison, for the record
    print(f"linux-source-{exported.version}: {len(exported.before.programs)} programs built "
          f"before the export, {len(exported.after.programs)} after")  # fmt: skip


def test_run_vmtests_lists_category(exported: Exported) -> None:
    mm = exported.tree / MM
    usage = subprocess.run(
        ["bash", "./run_vmtests.sh", "-h"], cwd=mm, capture_output=True, text=True, check=False
    ).stdout
    assert re.search(r"^- residency$", usage, re.M), usage
    script = (mm / "run_vmtests.sh").read_text()
    for name in OURS:
        assert f'CATEGORY="residency" run_test ./{name}\n' in script
    makefile = (mm / "Makefile").read_text()
    for name in OURS:
        assert re.search(rf"^TEST_GEN_FILES \+= {name}$", makefile, re.M)
    if any(mm.glob("ksft_mmap.sh")):  # trees with wrappers (7.x)
        wrapper = mm / "ksft_residency.sh"
        assert wrapper.read_text().endswith("./run_vmtests.sh -t residency\n")
        assert wrapper.stat().st_mode & 0o111
        assert re.search(r"^TEST_PROGS \+= ksft_residency\.sh$", makefile, re.M)
    # upstream's own madv_populate is untouched
    assert (mm / "madv_populate.c").read_bytes() == (
        fetch_mm_tree(exported.version).path / MM / "madv_populate.c"
    ).read_bytes()


def test_second_export_changes_nothing(exported: Exported) -> None:
    mm = exported.tree / MM
    assert "wrote" in exported.first
    before = _snapshot(mm)
    assert "already up to date" in _export(exported.tree)
    assert _snapshot(mm) == before


def test_refuses_non_kernel_tree(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "-s", "-C", str(VM), "export", f"KSRC={tmp_path}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "is not a kernel tree" in proc.stderr
