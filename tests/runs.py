"""Real runs of the orchestrator for the tests that boot kernels: one way to start a run
and read what it wrote, and the kernel that cannot boot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from orchestrator.cache import default_cache_dir
from orchestrator.kernel import resolve_kernel

ROOT = Path(__file__).resolve().parent.parent


def orchestrate(results: Path, *args: str, timeout: int = 1200) -> tuple[int, str, dict[str, Any]]:
    """`python -m orchestrator --results @results @args` from the repository root: its exit
    status, stdout and stderr, and the summary.json it wrote ({} when it wrote none).  A
    traceback is never an answer the orchestrator may give."""
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--results", str(results), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    latest = results / "latest" / "summary.json"
    summary = json.loads(latest.read_text()) if latest.exists() else {}
    return proc.returncode, text, summary


def broken_default_kernel(dest: Path) -> Path:
    """The default kernel's image with its setup code kept and the kernel zeroed: QEMU
    starts it and it never boots.  Written to @dest/bzImage."""
    kernel = resolve_kernel(
        None, None, default_cache_dir(), ROOT / "qemu-images/kernel-presets.toml"
    )
    data = bytearray(kernel.image.read_bytes())
    data[0x10000:] = bytes(len(data) - 0x10000)
    broken = dest / "bzImage"
    broken.write_bytes(bytes(data))
    return broken
