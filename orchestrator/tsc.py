"""The host's TSC rate in kHz, for a microvm guest's `tsc_early_khz=`.

Under TCG the guest's TSC runs at the host's rate, and on `-M microvm` (no HPET, no PM timer,
often no usable PIT calibration) a kernel that cannot calibrate it hung in most boots.  The
rate is read, in this order, from:

1. the host kernel's own words in its log (dmesg, /dev/kmsg, the journal):
   "tsc: Refined TSC clocksource calibration: N MHz", else "tsc: Detected N MHz TSC" (printed
   when the TSC rate differs from the processor's), else "tsc: Detected N MHz processor";
2. a measurement: a small C program counting TSC ticks against CLOCK_MONOTONIC_RAW.

Never /proc/cpuinfo's "cpu MHz": that is the current core frequency, which follows frequency
scaling.  The answer is kept per host boot (the rate cannot change without a reboot).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cache import atomic_write_text
from .errors import InfraError

# arch/x86/kernel/tsc.c: "Refined TSC clocksource calibration: %lu.%03lu MHz",
# "Detected %lu.%03lu MHz processor", "Detected %lu.%03lu MHz TSC".
LOG_PATTERNS = (
    ("refined", re.compile(r"tsc: Refined TSC clocksource calibration: (\d+)\.(\d{3}) MHz")),
    ("detected-tsc", re.compile(r"tsc: Detected (\d+)\.(\d{3}) MHz TSC")),
    ("detected-processor", re.compile(r"tsc: Detected (\d+)\.(\d{3}) MHz processor")),
)
MEASURE_SECONDS = 0.2
CACHE_FORMAT = 1

MEASURE_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double span = argc > 1 ? atof(argv[1]) : 0.2;

	/* A preemption between the reads skews one round: the caller takes the median. */
	for (int round = 0; round < 3; round++) {
		unsigned int aux;
		double t0 = now(), t1;
		uint64_t c0 = __rdtscp(&aux);

		while ((t1 = now()) - t0 < span)
			;
		uint64_t c1 = __rdtscp(&aux);
		printf("%.0f\n", (c1 - c0) / (t1 - t0) / 1000.0);
	}
	return 0;
}
"""


@dataclass(frozen=True)
class TscRate:
    khz: int
    source: str  # "kernel log (dmesg): tsc: Refined ...", "measured: ...", ...

    def describe(self) -> str:
        return f"{self.khz} kHz from {self.source}"


def rate_from_log(text: str) -> tuple[int, str] | None:
    """(kHz, the line) from a kernel log, by the preference of LOG_PATTERNS; the last
    occurrence of a kind counts (a log may hold several boots, e.g. a journal)."""
    for _kind, pattern in LOG_PATTERNS:
        matches = list(pattern.finditer(text))
        if matches:
            m = matches[-1]
            return int(m[1]) * 1000 + int(m[2]), m[0]
    return None


def _run_text(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        return ""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout if out.returncode == 0 else ""


def _read_kmsg() -> str:
    """The kernel's ring buffer through /dev/kmsg, read without blocking to its end."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    lines = []
    try:
        while True:
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError:  # EPIPE: a record was overwritten while reading; go on
                continue
            if not record:
                break
            lines.append(record.decode("utf-8", "replace").split(";", 1)[-1])
    finally:
        os.close(fd)
    return "".join(lines)


LOG_READERS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("dmesg", lambda: _run_text(["dmesg"])),
    ("/dev/kmsg", _read_kmsg),
    ("journalctl -k -b", lambda: _run_text(["journalctl", "-k", "-b", "--no-pager", "-q"])),
)


def measure_khz(workdir: Path, seconds: float = MEASURE_SECONDS) -> int:
    """Count TSC ticks against CLOCK_MONOTONIC_RAW in a compiled C program; the median of
    three rounds, in kHz."""
    if shutil.which("gcc") is None:
        raise InfraError("cannot measure the TSC rate: gcc is missing", "apt-get install gcc")
    src = workdir / "tsc_rate.c"
    exe = workdir / "tsc_rate"
    src.write_text(MEASURE_C)
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True, capture_output=True)
    out = subprocess.run([str(exe), str(seconds)], capture_output=True, text=True, check=True)
    values = sorted(float(v) for v in out.stdout.split())
    return round(values[len(values) // 2])


def host_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def read_tsc_rate(
    readers: tuple[tuple[str, Callable[[], str]], ...] = LOG_READERS,
    measure: Callable[[], int] | None = None,
) -> TscRate:
    """The host's TSC rate: the kernel's log first, else a measurement."""
    for name, read in readers:
        found = rate_from_log(read())
        if found is not None:
            khz, line = found
            return TscRate(khz, f"the host kernel's log ({name}): {line!r}")
    if measure is None:
        with tempfile.TemporaryDirectory(prefix="residency-tsc-") as tmp:
            khz = measure_khz(Path(tmp))
    else:
        khz = measure()
    return TscRate(
        khz,
        f"a measurement (rdtscp against CLOCK_MONOTONIC_RAW, {MEASURE_SECONDS:.1f}s x 3, "
        "median): the host kernel's log has no TSC calibration line",
    )


def host_tsc_rate(cache: Path) -> TscRate:
    """read_tsc_rate(), kept in <cache>/tsc-rate.json for the host's boot."""
    saved_file = cache / "tsc-rate.json"
    key = f"{host_boot_id()} format={CACHE_FORMAT}"
    try:
        saved = json.loads(saved_file.read_text())
        if saved.get("key") == key:
            return TscRate(int(saved["khz"]), str(saved["source"]) + " (kept for this host boot)")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rate = read_tsc_rate()
    atomic_write_text(
        saved_file, json.dumps({"key": key, "khz": rate.khz, "source": rate.source}) + "\n"
    )
    return rate
