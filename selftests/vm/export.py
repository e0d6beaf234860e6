#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Drop the page-residency selftests into a kernel tree's tools/testing/selftests/mm/.

Usage: export.py KSRC PROGRAM...   (run by "make -C selftests/vm export KSRC=<tree>")

What an upstream patch adding the tests would do, and nothing else:

- copies each PROGRAM.c and residency_util.[ch] into mm/ (our madv_populate.c as
  madv_populate_residency.c: upstream has its own madv_populate.c), the kselftest.h
  include rewritten to the form most of the tree's own mm programs use ("../kselftest.h"
  up to 6.12, "kselftest.h" once lib.mk puts tools/testing/selftests on -I);
- registers them in mm/Makefile: TEST_GEN_FILES (upstream runs its mm programs from
  run_vmtests.sh, not from TEST_GEN_PROGS), residency_util.h in LOCAL_HDRS and
  residency_util.c as a prerequisite of each program;
- adds the "residency" category to run_vmtests.sh (its usage text and one run_test
  line per program);
- where the tree has ksft_<category>.sh wrappers (7.x), adds ksft_residency.sh and lists
  it in the Makefile's TEST_PROGS;
- appends to mm/config the options of our config that it does not set yet.

A file is only rewritten when its content changes, so a second export changes nothing
(not even a timestamp).  Each inserted block is found and replaced on the next export.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATEGORY = "residency"
# our name -> the name in upstream's mm/, where upstream has a file of the same name
RENAME = {"madv_populate": "madv_populate_residency"}
HELPERS = ("residency_util.c", "residency_util.h")
USAGE = (
    f"- {CATEGORY}",
    "\tpage residency of shmem and anonymous memory: pagemap, mincore(2),",
    "\tSEEK_DATA/SEEK_HOLE, MADV_POPULATE_{READ,WRITE} and swap",
)
MAKEFILE_HEAD = "# page residency: pagemap, mincore, SEEK_DATA/SEEK_HOLE, MADV_POPULATE"
RUN_HEAD = "# page residency of shmem and anonymous memory (pagemap, mincore, SEEK_DATA,"
RUN_HEAD2 = "# MADV_POPULATE, swap)"
WRAPPER = f"#!/bin/sh -e\n# SPDX-License-Identifier: GPL-2.0\n\n./run_vmtests.sh -t {CATEGORY}\n"


class ExportError(Exception):
    pass


def write_if_changed(path: Path, text: str, mode: int | None = None) -> bool:
    """Write ``text`` unless the file already holds it; True when it was written."""
    changed = not path.is_file() or path.read_text() != text
    if changed:
        tmp = path.with_name(f".{path.name}.export-tmp")
        tmp.write_text(text)
        os.chmod(
            tmp, mode if mode is not None else (path.stat().st_mode if path.exists() else 0o644)
        )
        tmp.replace(path)
    elif mode is not None and path.stat().st_mode & 0o777 != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def remove_block(lines: list[str], block: list[str]) -> list[str]:
    """``lines`` without the first exact occurrence of ``block`` (if any)."""
    n = len(block)
    for i in range(len(lines) - n + 1):
        if lines[i : i + n] == block:
            return lines[:i] + lines[i + n :]
    return lines


def insert_before(lines: list[str], pattern: str, block: list[str], what: str) -> list[str]:
    for i, line in enumerate(lines):
        if re.match(pattern, line):
            return lines[:i] + block + lines[i:]
    raise ExportError(f"{what}: no line matching {pattern!r}; is this an upstream tree?")


def insert_after_last(lines: list[str], pattern: str, block: list[str], what: str) -> list[str]:
    found = [i for i, line in enumerate(lines) if re.match(pattern, line)]
    if not found:
        raise ExportError(f"{what}: no line matching {pattern!r}; is this an upstream tree?")
    i = found[-1] + 1
    return lines[:i] + block + lines[i:]


def kselftest_include(mm: Path) -> str:
    """The kselftest.h include line most of the tree's mm programs use."""
    count: dict[str, int] = {}
    for c in mm.glob("*.c"):
        for m in re.finditer(r'^#include "((?:\.\./)?kselftest\.h)"', c.read_text(), re.M):
            count[m.group(1)] = count.get(m.group(1), 0) + 1
    if not count:
        raise ExportError(f"no program in {mm} includes kselftest.h; is this an upstream tree?")
    return f'#include "{max(count, key=lambda k: count[k])}"'


def copy_sources(mm: Path, programs: list[tuple[str, str]], include: str) -> list[str]:
    written = []
    for src_name, dst_name in [(f"{a}.c", f"{b}.c") for a, b in programs] + [
        (h, h) for h in HELPERS
    ]:
        text = (HERE / src_name).read_text()
        text = re.sub(r'^#include "kselftest\.h"$', include, text, flags=re.M)
        if write_if_changed(mm / dst_name, text, 0o644):
            written.append(dst_name)
    return written


def edit_makefile(mm: Path, names: list[str], wrapper: bool) -> bool:
    path = mm / "Makefile"
    lines = path.read_text().splitlines()
    gen = [MAKEFILE_HEAD, "LOCAL_HDRS += $(selfdir)/mm/residency_util.h"]
    gen += [f"TEST_GEN_FILES += {n}" for n in names] + [""]
    deps = [f"$(OUTPUT)/{n}: residency_util.c" for n in names]
    ksft = f"TEST_PROGS += ksft_{CATEGORY}.sh"
    for block in (gen, deps, [ksft]):
        lines = remove_block(lines, block)
    for n in names:
        if any(re.match(rf"^TEST_GEN_(FILES|PROGS)\s*\+?=\s*{re.escape(n)}$", x) for x in lines):
            raise ExportError(f"{path} already builds a program {n}: it is not ours")
    lines = insert_before(lines, r"^TEST_PROGS\b", gen, str(path))
    lines = insert_after_last(lines, r"^\$\(TEST_GEN_FILES\):", deps, str(path))
    if wrapper:
        # in the sorted list of wrappers
        idx = [i for i, x in enumerate(lines) if re.match(r"^TEST_PROGS \+= ksft_\S+\.sh$", x)]
        pos = next((i for i in idx if lines[i] > ksft), idx[-1] + 1)
        lines.insert(pos, ksft)
    return write_if_changed(path, "\n".join(lines) + "\n")


def edit_run_vmtests(mm: Path, names: list[str]) -> bool:
    path = mm / "run_vmtests.sh"
    lines = path.read_text().splitlines()
    usage = list(USAGE)
    run = [RUN_HEAD, RUN_HEAD2] + [f'CATEGORY="{CATEGORY}" run_test ./{n}' for n in names]
    run.append("")
    lines = remove_block(remove_block(lines, usage), run)
    # the usage text lists the categories, then a blank line and the example
    for i, line in enumerate(lines):
        if line.startswith("example: ") and i > 0 and lines[i - 1] == "":
            lines[i - 1 : i - 1] = usage
            break
    else:
        raise ExportError(f"{path}: no category list in the usage text; is this an upstream tree?")
    lines = insert_before(lines, r'^echo "SUMMARY: ', run, str(path))
    return write_if_changed(path, "\n".join(lines) + "\n")


def edit_config(mm: Path) -> bool:
    path = mm / "config"
    theirs = path.read_text()
    have = set(theirs.splitlines())
    missing = [x for x in (HERE / "config").read_text().splitlines() if x and x not in have]
    if not missing:
        return False
    return write_if_changed(path, theirs.rstrip("\n") + "\n" + "\n".join(missing) + "\n")


def export(ksrc: Path, ours: list[str]) -> list[str]:
    """Export the programs ``ours`` into ``ksrc``; returns what changed."""
    mm = ksrc / "tools" / "testing" / "selftests" / "mm"
    if not (ksrc / "Makefile").is_file() or not (mm / "run_vmtests.sh").is_file():
        raise ExportError(
            f"KSRC={ksrc} is not a kernel tree: it needs a top-level Makefile and "
            "tools/testing/selftests/mm/run_vmtests.sh"
        )
    if not re.search(r"^VERSION = \d+$", (ksrc / "Makefile").read_text(), re.M):
        raise ExportError(f"KSRC={ksrc}: its Makefile has no 'VERSION = N': not a kernel tree")
    programs = [(p, RENAME.get(p, p)) for p in ours]
    names = [dst for _, dst in programs]
    wrapper = any(mm.glob("ksft_*.sh"))
    changed = copy_sources(mm, programs, kselftest_include(mm))
    if edit_makefile(mm, names, wrapper):
        changed.append("Makefile")
    if edit_run_vmtests(mm, names):
        changed.append("run_vmtests.sh")
    if wrapper and write_if_changed(mm / f"ksft_{CATEGORY}.sh", WRAPPER, 0o755):
        changed.append(f"ksft_{CATEGORY}.sh")
    if edit_config(mm):
        changed.append("config")
    return changed


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not argv[1]:
        print("usage: make -C selftests/vm export KSRC=<kernel tree>", file=sys.stderr)
        return 2
    ksrc = Path(argv[1]).expanduser().resolve()
    try:
        changed = export(ksrc, argv[2:])
    except ExportError as e:
        print(f"export: {e}", file=sys.stderr)
        return 2
    mm = ksrc / "tools" / "testing" / "selftests" / "mm"
    if changed:
        print(f"export: {mm}: wrote {' '.join(changed)}")
    else:
        print(f"export: {mm}: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
