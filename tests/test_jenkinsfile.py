"""The Jenkinsfile: its `sh` steps are exactly the project's commands (checked here without
Jenkins), and the slow test runs those same commands in the same order on real runs, as the
agents would: two kernels each on their own in a fresh checkout, then the merge, whose
summary.json, junit.xml and report.html must agree with the two runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from junit_schema import validate as validate_junit

ROOT = Path(__file__).resolve().parent.parent
JENKINSFILE = ROOT / "Jenkinsfile"
PRESETS = ["debian:6.1", "debian:6.12", "debian:7.2", "debian:7.3"]
LABELS = [p.replace(":", "-") for p in PRESETS]
CELL = [
    ".ci/setup",
    'tox -e kernel -- --kernel "$PRESET" --results "results-$(echo "$PRESET" | tr : -)"',
]
MERGE = [
    ".ci/setup",
    "tox -e merge -- --results merged " + " ".join(f"results-{x}" for x in LABELS),
]


def sh_steps(text: str) -> list[str]:
    return re.findall(r"^\s*sh '([^']*)'\s*$", text, re.MULTILINE)


def test_the_jenkinsfile_runs_exactly_the_projects_commands() -> None:
    text = JENKINSFILE.read_text()
    assert sh_steps(text) == CELL + MERGE
    code = re.sub(r"//.*", "", text)
    assert len(re.findall(r"\b(sh|bat|powershell|pwsh)\b", code)) == len(CELL + MERGE)
    axis = re.search(r"name 'PRESET'\s+values (.+)", code)
    assert axis is not None and re.findall(r"'([^']+)'", axis.group(1)) == PRESETS
    presets = tomllib.loads((ROOT / "qemu-images" / "kernel-presets.toml").read_text())
    assert [p.split(":", 1)[1] for p in PRESETS] == list(presets["debian"]), "every preset"
    assert re.findall(r"unstash '([^']+)'", code) == [f"results-{x}" for x in LABELS]
    assert "stash name: \"results-${PRESET.replace(':', '-')}\"" in code
    assert "junit testResults: 'merged/latest/junit.xml'" in code
    assert os.access(ROOT / ".ci" / "setup", os.X_OK)
    assert "[testenv:merge]" in (ROOT / "tox.ini").read_text()


def checkout(workspace: Path) -> None:
    """What `checkout scm` gives an agent: the project's files (as in this tree), no .tox
    and no results."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (workspace / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, workspace / name)


def agent_env(preset: str = "") -> dict[str, str]:
    """This environment as an agent's shell would have it: without the tests' virtualenv
    and tox's own variables."""
    ours = str(Path(sys.prefix) / "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TOX_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
    if preset:
        env["PRESET"] = preset
    return env


def sh(command: str, workspace: Path, env: dict[str, str]) -> int:
    """One `sh` step: Jenkins runs it with /bin/sh -xe in the workspace."""
    proc = subprocess.run(["sh", "-xec", command], cwd=workspace, env=env, check=False)
    return proc.returncode


@pytest.mark.slow
@pytest.mark.qemu
def test_the_jenkinsfile_commands_on_two_real_kernels(tmp_path: Path) -> None:
    if shutil.which("tox", path=agent_env()["PATH"]) is None:
        pytest.skip("tox is not on PATH (the agents get it from .ci/setup)")
    steps = sh_steps(JENKINSFILE.read_text())
    cell, merge = steps[: len(CELL)], steps[len(CELL) :]
    chosen = [PRESETS[0], PRESETS[-1]]
    agents = {}
    for preset in chosen:
        # Each cell in a fresh checkout of its own; .ci/setup (apt-get, pip) is left out:
        # this machine has what it installs, and .ci/run runs it in CI.
        workspace = tmp_path / f"agent-{preset.replace(':', '-')}"
        checkout(workspace)
        codes = [sh(c, workspace, agent_env(preset)) for c in cell if c != ".ci/setup"]
        assert codes[-1] in (0, 1), f"{preset}: infrastructure error (exit {codes[-1]})"
        agents[preset] = workspace
    final = tmp_path / "final"
    checkout(final)
    labels = [p.replace(":", "-") for p in chosen]
    for preset, label in zip(chosen, labels, strict=True):  # unstash
        shutil.copytree(agents[preset] / f"results-{label}", final / f"results-{label}")
    command = merge[-1].replace(
        " ".join(f"results-{x}" for x in LABELS), " ".join(f"results-{x}" for x in labels)
    )
    status = sh(command, final, agent_env())
    runs = [load(final / f"results-{x}" / "latest" / "summary.json") for x in labels]
    merged_dir = (final / "merged" / "latest").resolve()
    merged = load(merged_dir / "summary.json")
    check_merged(runs, merged, status, merged_dir)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def check_merged(
    runs: list[dict[str, Any]], merged: dict[str, Any], status: int, merged_dir: Path
) -> None:
    """The merge says what the runs said, all of it, once."""
    infra = any(r["infrastructure_errors"] for r in runs)
    failed = any(
        x["status"] in ("fail", "xpass", "crash", "timeout", "error")
        for r in runs
        for x in r["results"]
    )
    assert status == merged["exit_status"] == (2 if infra else 1 if failed else 0)
    assert [k["name"] for k in merged["kernels"]] == [k["name"] for r in runs for k in r["kernels"]]
    assert merged["results"] == [x for r in runs for x in r["results"]]
    for key, value in merged["counts"].items():
        assert value == sum(r["counts"][key] for r in runs), key
    junit = (merged_dir / "junit.xml").read_text()
    validate_junit(junit)
    assert junit.count("<testcase ") == len(merged["results"])
    page = (merged_dir / "report.html").read_text()
    assert page.count('<td class="cell ') == len(merged["results"])
    for link in re.findall(r'href="([^"]+)"', page):
        assert (merged_dir / link).is_file(), link
