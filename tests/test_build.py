"""The selftests' build cache key covers every file the build reads."""

from __future__ import annotations

from pathlib import Path

from orchestrator.build import build_inputs, selftests_digest

ROOT = Path(__file__).resolve().parent.parent


def collection(tmp_path: Path) -> Path:
    """tmp/coll builds t.c with -I ../inc and includes ../rules.mk; t.c includes
    "mid.h" (found in ../inc), which includes <deep.h> (also in ../inc)."""
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "mid.h").write_text("#include <deep.h>\n#include <stdio.h>\n")
    (inc / "deep.h").write_text("#define DEEP 1\n")
    (inc / "unrelated.h").write_text("#define UNUSED 1\n")
    (tmp_path / "rules.mk").write_text("include ../more.mk\nall:\n")
    (tmp_path / "more.mk").write_text("# more rules\n")
    coll = tmp_path / "coll"
    coll.mkdir()
    (coll / "Makefile").write_text(
        "CFLAGS = -Wall -I ../inc\nTEST_GEN_PROGS = t\ninclude ../rules.mk\n"
    )
    (coll / "t.c").write_text('#include "mid.h"\nint main(void) { return DEEP - 1; }\n')
    return coll


def test_a_header_outside_the_collection_changes_the_key(tmp_path: Path) -> None:
    coll = collection(tmp_path)
    before = selftests_digest(coll)
    (tmp_path / "inc" / "deep.h").write_text("#define DEEP 2\n")
    assert selftests_digest(coll) != before


def test_included_makefiles_change_the_key(tmp_path: Path) -> None:
    coll = collection(tmp_path)
    before = selftests_digest(coll)
    (tmp_path / "rules.mk").write_text("include ../more.mk\nall:\n\t@true\n")
    after_rules = selftests_digest(coll)
    assert after_rules != before
    (tmp_path / "more.mk").write_text("# changed\n")
    assert selftests_digest(coll) != after_rules


def test_files_the_build_does_not_read_leave_the_key(tmp_path: Path) -> None:
    coll = collection(tmp_path)
    before = selftests_digest(coll)
    (tmp_path / "inc" / "unrelated.h").write_text("#define UNUSED 2\n")
    assert selftests_digest(coll) == before
    names = {p.name for p in build_inputs(coll)}
    assert names == {"Makefile", "t.c", "mid.h", "deep.h", "rules.mk", "more.mk"}


def test_the_real_collections_include_the_shared_header_and_rules() -> None:
    for path in (ROOT / "selftests" / "vm", ROOT / "tests" / "faults"):
        inputs = build_inputs(path)
        assert ROOT / "selftests" / "kselftest.h" in inputs
        assert ROOT / "selftests" / "lib.mk" in inputs
    assert ROOT / "selftests" / "vm" / "residency_util.h" in build_inputs(ROOT / "selftests" / "vm")
