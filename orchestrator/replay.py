"""Console-log replay: a saved console log read back into the boot and the executions it
shows, with the same markers the live console is driven by."""

from __future__ import annotations

import re
from pathlib import Path

from .console import ANY_NONCE, END_RE, READY_RE, START_RE, BootInfo, Execution, boot_info, clean
from .console import finished as finished_execution


def read_console_log(path: Path) -> str:
    """A saved console log as it was written: its line ends untouched.  (Text mode would
    read the serial console's "\\r\\r\\n" as two line ends, a blank line after every line.)"""
    return path.read_bytes().decode(errors="replace")


def replay_console(log: str) -> tuple[BootInfo | None, list[Execution]]:
    """The boot and the executions a console log shows.  A program whose end marker is
    missing died with the guest."""
    text = clean(log)
    ready = READY_RE.search(text)
    boot = boot_info(ready, 0.0) if ready else None
    executions = []
    starts = list(re.finditer(START_RE.format(nonce=ANY_NONCE), text))
    for i, start in enumerate(starts):
        stop = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[start.end() : stop]
        end = re.search(END_RE.format(nonce=start["nonce"]), body)
        if end:
            executions.append(finished_execution(start["program"], end, body[: end.start()], 0.0))
        else:
            executions.append(
                Execution(start["program"], "crash", None, body, 0.0, detail="console ended")
            )
    return boot, executions
