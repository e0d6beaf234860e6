"""The gate and the bisect exit status on real runs of the default Debian kernel (6.1 on
Debian 12, whose shmem_lseek has two known failures in expectations.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from junit_schema import validate as validate_junit
from runs import broken_default_kernel, orchestrate

ROOT = Path(__file__).resolve().parent.parent
KNOWN = "memfd_max_size_last_byte_seek_data"  # xfail on 6.1 with expectations, fail without

pytestmark = pytest.mark.qemu


def test_a_baseline_gates_on_regressions_only(tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, text, base = orchestrate(results, "-k", "shmem_lseek")
    assert code == 0, text
    statuses = {r["subtest"]: r["status"] for r in base["results"]}
    assert statuses[KNOWN] == "xfail", "expected on 6.1"
    # Times come from the host's clock, per result line.
    assert all(r["seconds"] >= 0 for r in base["results"])
    assert sum(r["seconds"] for r in base["results"]) > 0
    assert sum(r["seconds"] for r in base["results"]) <= base["programs"][0]["seconds"]
    junit = (results / "latest" / "junit.xml").read_text()
    validate_junit(junit)
    base_dir = results / base["run_id"]

    # Without expectations the known failure is a failure: a regression against xfail.
    code, text, now = orchestrate(results, "-k", "shmem_lseek", "--no-expectations",
                                  "--baseline", str(base_dir))  # fmt: skip
    assert code == 1, text
    assert f"REGRESSION: {now['kernels'][0]['name']} shmem_lseek: {KNOWN}: fail" in text
    assert now["baseline"]["run"] == base["run_id"]
    assert now["baseline"]["counts"]["regression"] == 2
    entry = next(r for r in now["results"] if r["subtest"] == KNOWN)
    assert entry["baseline"] == "regression" and entry["reason"].startswith("SEEK_DATA")
    junit = (results / "latest" / "junit.xml").read_text()
    validate_junit(junit)
    assert f'message="regression since {base["run_id"]}' in junit

    # The same failures already on the base: still failing, the gate passes.
    failing_dir = results / now["run_id"]
    code, text, again = orchestrate(results, "-k", "shmem_lseek", "--no-expectations",
                                    "--baseline", str(failing_dir / "summary.json"))  # fmt: skip
    assert code == 0, text
    assert again["baseline"]["counts"]["still failing"] == 2
    assert again["baseline"]["counts"]["regression"] == 0


def test_bisect_exit_status_on_good_bad_and_unbootable_kernels(tmp_path: Path) -> None:
    results = tmp_path / "results"
    good = ["--bisect", "--subtest", "shmem_lseek:memfd_empty_file_enxio"]
    code, text, summary = orchestrate(results, *good)
    assert code == 0, text
    assert summary["config"]["expectations"] is None and summary["config"]["bisect"]
    assert [p["program"] for p in summary["programs"]] == ["shmem_lseek"]

    # Under --bisect the expectations are off: a known failure is bad, not xfail.
    code, text, summary = orchestrate(results, "--bisect", "--subtest", f"shmem_lseek:{KNOWN}")
    assert code == 1, text
    assert {r["subtest"]: r["status"] for r in summary["results"]}[KNOWN] == "fail"

    broken = broken_default_kernel(tmp_path)
    code, text, summary = orchestrate(
        results, *good, "--kernel", str(broken), "--boot-timeout", "20"
    )
    assert code == 125, text
    assert summary["infrastructure_errors"][0]["untestable"] is True
