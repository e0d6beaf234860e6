"""Our C is in the kernel's coding style: upstream's own `checkpatch.pl --no-tree` on it.

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
# --terse --show-types: "file:line: WARNING:TYPE: message"
FINDING_RE = re.compile(r"^(?P<file>[^:\s]+):\d+: (?:ERROR|WARNING|CHECK):(?P<type>[A-Z_]+): ")


@pytest.fixture(scope="module")
def checkpatch() -> Path:
    if shutil.which("perl") is None:
        pytest.skip("perl is not installed: checkpatch.pl needs it")
    return fetch_mm_tree("6.12").path / "scripts" / "checkpatch.pl"


def test_selftests_are_checkpatch_clean(checkpatch: Path) -> None:
    assert len(SOURCES) > 3
    proc = subprocess.run(
        ["perl", str(checkpatch), "--no-tree", "--terse", "--show-types", "-f",
         *map(str, SOURCES)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    findings, allowed = [], set()
    for line in proc.stdout.splitlines():
        m = FINDING_RE.match(line)
        if m and (Path(m["file"]).name, m["type"]) in ALLOWED:
            allowed.add((Path(m["file"]).name, m["type"]))
        elif m or re.search(r"\b(ERROR|WARNING|CHECK):", line):
            findings.append(line)
    assert not findings, "\n".join(findings)
    # the allowed finding was seen: the output is read as it is written
    assert allowed == ALLOWED, proc.stdout + proc.stderr
