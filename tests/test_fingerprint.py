"""Oops fingerprints from kernel console text (messages as the 6.1 kernel prints them)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.oops import oops_fingerprint, stale_breakpoint

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


def test_an_int3_no_longer_in_memory_is_a_stale_breakpoint() -> None:
    """Two recorded TCG crashes with two vCPUs: 7.3-rc7 at boot, 7.2 in thp_pagemap.  The
    byte before the trapping address is 0x66 (the patched NOP), not the int3."""
    for name in ("debian-7.3-boot-int3-oops-console.log",
                 "debian-7.2-thp_pagemap-stale-int3-console.log"):  # fmt: skip
        assert stale_breakpoint((RECORDED / name).read_text()), name
    assert not stale_breakpoint((RECORDED / "debian-6.1-panic-console.log").read_text())
    # An int3 that is in memory is the kernel's (a BUG, a kprobe gone wrong): not stale.
    real = "[    1.0] Oops: int3: 0000 [#1] SMP\n[    1.1] Code: 00 11 cc <90> 0f ae\n"
    assert not stale_breakpoint(real)
    # Only the first oops counts.
    later = "[ 1.0] BUG: kernel NULL pointer dereference\n" + real.replace("cc <90>", "66 <90>")
    assert not stale_breakpoint(later)
