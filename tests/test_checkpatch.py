"""Our C is in the kernel's coding style: upstream's own `checkpatch.pl --no-tree` on it,
read as the patch that would add it (as a maintainer runs it: a patch is held to more
than `-f` checks, the 100-column limit among them).

checkpatch.pl comes from the same Debian linux-source tree test_export.py fetches (cached;
`orchestrator.upstream.fetch_mm_tree`), so nothing of upstream is kept in this repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.upstream import fetch_mm_tree

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "selftests/vm").glob("*.[ch]"), ROOT / "selftests/kselftest.h"])
# The one line checkpatch flags in kselftest.h is the definition of __printf itself, made
# with the attribute checkpatch would have us replace by __printf (upstream's has it too).
ALLOWED = {("kselftest.h", "PREFER_DEFINED_ATTRIBUTE_MACRO")}
# What is about the commit, not the code: the patch made here has no message or sign-off
ABOUT_THE_COMMIT = "COMMIT_MESSAGE,FILE_PATH_CHANGES,MISSING_SIGN_OFF"
# --show-types: "WARNING:TYPE: message" then "#N: FILE: path:line:"
FINDING_RE = re.compile(
    r"^(?:ERROR|WARNING|CHECK):(?P<type>[A-Z_]+): .*\n#\d+: FILE: (?P<file>[^:]+):", re.M
)


@pytest.fixture(scope="module")
def checkpatch() -> Path:
    if shutil.which("perl") is None:
        pytest.skip("perl is not installed: checkpatch.pl needs it")
    return fetch_mm_tree("6.12").path / "scripts" / "checkpatch.pl"


def adding_patch(sources: list[Path]) -> str:
    """A git patch that adds @sources (paths relative to the repository)."""
    out = []
    for src in sources:
        name = src.relative_to(ROOT).as_posix()
        lines = src.read_text().splitlines()
        out += [f"diff --git a/{name} b/{name}", "new file mode 100644", "--- /dev/null",
                f"+++ b/{name}", f"@@ -0,0 +1,{len(lines)} @@"]  # fmt: skip
        out += [f"+{x}" for x in lines]
    return "\n".join(out) + "\n"


def test_selftests_are_checkpatch_clean(checkpatch: Path, tmp_path: Path) -> None:
    assert len(SOURCES) > 3
    patch = tmp_path / "add.patch"
    patch.write_text(adding_patch(SOURCES))
    proc = subprocess.run(
        ["perl", str(checkpatch), "--no-tree", "--show-types", "--ignore", ABOUT_THE_COMMIT,
         str(patch)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    findings, allowed = [], set()
    # not --terse: each finding's "#N: FILE: path:line:" tells the file
    for block in proc.stdout.split("\n\n"):
        m = FINDING_RE.search(block)
        if m and (Path(m["file"]).name, m["type"]) in ALLOWED:
            allowed.add((Path(m["file"]).name, m["type"]))
        elif m or re.search(r"^(ERROR|WARNING|CHECK):", block, re.M):
            findings.append(block)
    assert not findings, "\n".join(findings)
    # the allowed finding was seen: the output is read as it is written
    assert allowed == ALLOWED, proc.stdout + proc.stderr
