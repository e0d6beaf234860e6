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
