"""tsc: the host's TSC rate from the kernel's own calibration, else measured."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from orchestrator import tsc

REFINED = """\
[    0.000000] tsc: Fast TSC calibration using PIT
[    0.000000] tsc: Detected 2399.894 MHz processor
[    1.339187] tsc: Refined TSC clocksource calibration: 2400.013 MHz
"""
TSC_DIFFERS = """\
[    0.000012] tsc: Detected 3600.000 MHz processor
[    0.000013] tsc: Detected 2803.210 MHz TSC
"""
PROCESSOR = """\
[    0.000000] [Firmware Bug]: TSC doesn't count with P0 frequency!
[    0.000047] tsc: Detected 2596.130 MHz processor
"""


def test_log_preference() -> None:
    assert tsc.rate_from_log(REFINED) == (
        2400013,
        "tsc: Refined TSC clocksource calibration: 2400.013 MHz",
    )
    assert tsc.rate_from_log(TSC_DIFFERS) == (2803210, "tsc: Detected 2803.210 MHz TSC")
    assert tsc.rate_from_log(PROCESSOR) == (2596130, "tsc: Detected 2596.130 MHz processor")
    assert tsc.rate_from_log("cpu MHz\t\t: 1200.000\n") is None
    # A journal of several boots: the last calibration counts.
    several = tsc.rate_from_log(REFINED + REFINED.replace("2400.013", "2400.020"))
    assert several is not None and several[0] == 2400020


def test_sources_in_order_then_measurement() -> None:
    rate = tsc.read_tsc_rate(readers=(("a", lambda: ""), ("b", lambda: PROCESSOR)))
    assert rate.khz == 2596130
    assert "(b)" in rate.source and "Detected 2596.130 MHz processor" in rate.source
    measured = tsc.read_tsc_rate(readers=(("a", lambda: "nothing"),), measure=lambda: 1999999)
    assert measured.khz == 1999999
    assert measured.source.startswith("a measurement")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="rdtsc is x86")
def test_measurement_is_plausible(tmp_path: Path) -> None:
    khz = tsc.measure_khz(tmp_path, seconds=0.05)
    assert 100_000 < khz < 10_000_000


def test_kept_per_host_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake() -> tsc.TscRate:
        calls.append(1)
        return tsc.TscRate(2400013, "test")

    monkeypatch.setattr(tsc, "read_tsc_rate", fake)
    monkeypatch.setattr(tsc, "host_boot_id", lambda: "boot-1")
    assert tsc.host_tsc_rate(tmp_path).khz == 2400013
    assert "kept" in tsc.host_tsc_rate(tmp_path).source
    assert len(calls) == 1
    monkeypatch.setattr(tsc, "host_boot_id", lambda: "boot-2")
    tsc.host_tsc_rate(tmp_path)
    assert len(calls) == 2
    assert json.loads((tmp_path / "tsc-rate.json").read_text())["khz"] == 2400013
