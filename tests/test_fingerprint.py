"""Oops fingerprints from kernel console text (messages as the 6.1 kernel prints them)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.oops import oops_fingerprint

RECORDED = Path(__file__).parent / "fixtures" / "recorded"


WARN = """\
ok 1 something
[   33.1] ------------[ cut here ]------------
[   33.2] WARNING: CPU: 1 PID: 90 at mm/memory.c:1234 zap_pte_range+0x5a/0x7c0
[   33.3] Call Trace:
[   33.4]  <TASK>
[   33.5]  ? __warn+0x7d/0xc0
[   33.6]  ? zap_pte_range+0x5a/0x7c0
[   33.7]  unmap_page_range+0x2a1/0x5b0
"""


def test_recorded_panic_gives_message_and_first_real_frame() -> None:
    console = (RECORDED / "debian-6.1-panic-console.log").read_text()
    assert oops_fingerprint(console) == "sysrq triggered crash in sysrq_handle_crash"


def test_recorded_hang_has_no_oops() -> None:
    # SysRq 'w' output (blocked tasks) is not an oops.
    console = (RECORDED / "debian-6.1-hang-console.log").read_text()
    assert "sysrq: Show Blocked State" in console
    assert oops_fingerprint(console) == ""


def test_warning_location_skips_uncertain_frames() -> None:
    assert oops_fingerprint(WARN) == "mm/memory.c:1234 zap_pte_range+0x5a/0x7c0 in unmap_page_range"


def test_plain_output_has_no_fingerprint() -> None:
    assert oops_fingerprint("TAP version 13\n1..1\nok 1 a\n") == ""
