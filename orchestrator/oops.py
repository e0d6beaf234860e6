"""Oops fingerprints: '<first oops/panic/WARN message> in <first call-trace function>'."""

from __future__ import annotations

import re

_OOPS_LINES = (
    re.compile(r"Kernel panic - not syncing: ?(.*)"),
    re.compile(r"(BUG: .*)"),
    re.compile(r"(Oops: .*)"),
    re.compile(r"(general protection fault.*)"),
    re.compile(r"WARNING: CPU: \d+ PID: \d+ at (\S+ \S+)"),
    re.compile(r"(INFO: task \S+ blocked for more than \d+ seconds)"),
    re.compile(r"(rcu: INFO: \S+ detected stalls.*)"),
)
_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")
_TRACE_FRAME = re.compile(r"^\s*(?:\[<[0-9a-f]+>\]\s*)?(\?\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+")
_NOT_THE_CULPRIT = {
    "dump_stack", "dump_stack_lvl", "show_stack", "panic", "__warn", "warn_slowpath_fmt",
    "report_bug", "handle_bug", "exc_invalid_op", "asm_exc_invalid_op", "die", "oops_end",
    "__die", "no_context", "page_fault_oops", "kernelmode_fixup_or_oops", "__bad_area_nosemaphore",
}  # fmt: skip


def oops_fingerprint(text: str) -> str:
    """'<first oops/panic/WARN message> in <first call-trace function>', or '' if none."""
    lines = text.replace("\r", "").replace("\0", "").splitlines()
    message = ""
    for line in lines:
        body = _TIMESTAMP.sub("", line)
        for pattern in _OOPS_LINES:
            m = pattern.search(body)
            if m and not message:
                message = m.group(1).strip()
    if not message:
        return ""
    function = ""
    in_trace = False
    for line in lines:
        body = _TIMESTAMP.sub("", line)
        if "Call Trace:" in body:
            in_trace = True
            continue
        m = _TRACE_FRAME.match(body)
        if in_trace and m and not m.group(1) and m.group(2) not in _NOT_THE_CULPRIT:
            function = m.group(2)
            break
    return f"{message} in {function}" if function else message


_CODE_LINE = re.compile(r"Code: (?:[0-9a-f]{2} )*?([0-9a-f]{2}) <[0-9a-f]{2}>")


def stale_breakpoint(text: str) -> bool:
    """Whether the first oops of @text is an int3 trap whose breakpoint is no longer in
    memory: in its "Code:" bytes, the byte before the trapping address (marked <..>) is
    not 0xcc.  The kernel patches its code (text_poke_bp, for static keys and alternatives)
    by writing an int3, then the new bytes, then the first byte, each step synchronised on
    every CPU; after that no CPU can run the int3.  A vCPU of QEMU's multi-threaded TCG
    can: it runs code it translated before the write (seen on 6.12, 7.2 and 7.3 guests
    with two vCPUs, at boot and in programs).  Such an oops is the emulator's, not the
    kernel's."""
    lines = [_TIMESTAMP.sub("", line) for line in text.replace("\r", "").splitlines()]
    first = next(
        (i for i, line in enumerate(lines) if any(p.search(line) for p in _OOPS_LINES)), None
    )
    if first is None or not lines[first].startswith("Oops: int3"):
        return False
    for line in lines[first:]:
        m = _CODE_LINE.search(line)
        if m:
            return m.group(1) != "cc"
    return False
