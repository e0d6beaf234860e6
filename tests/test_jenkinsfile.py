"""The Jenkinsfile: its `sh` steps are exactly the project's commands (checked here without
Jenkins), and the tests run those same commands in the same order: the slow one on real
runs, as the agents would (two kernels each on their own in a fresh checkout, then the
merge, whose summary.json, junit.xml and report.html must agree with the two runs); another
the last stage on recorded runs over successive builds, with the baseline where
copyArtifacts puts it for a change request and without it for a branch's own build."""

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
from recorded_run import recorded_run

ROOT = Path(__file__).resolve().parent.parent
JENKINSFILE = ROOT / "Jenkinsfile"
PRESETS = ["debian:6.1", "debian:6.12", "debian:7.2", "debian:7.3"]
LABELS = [p.replace(":", "-") for p in PRESETS]
CELL = ['./run --kernel "$PRESET" --results "results-$(echo "$PRESET" | tr : -)"']
MERGE = [".ci/gate " + " ".join(f"results-{x}" for x in LABELS)]
GATE = ROOT / ".ci" / "gate"


def sh_steps(text: str) -> list[str]:
    """`sh '...'` and `sh(script: '...', ...)`, in their order."""
    return re.findall(r"^\s*(?:int \w+ = )?sh[ (](?:script: )?'([^']*)'", text, re.MULTILINE)


def copy_artifacts(code: str) -> dict[str, str]:
    """The arguments of the Jenkinsfile's one copyArtifacts step, as written."""
    found = re.findall(r"copyArtifacts\((.*?)\n\s*\)", code, re.DOTALL)
    assert len(found) == 1, found
    return dict(re.findall(r"^\s*(\w+): (.+?),?$", found[0], re.MULTILINE))


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
    for script in (ROOT / "run", ROOT / ".ci" / "setup", GATE):
        assert os.access(script, os.X_OK), script
    assert "[testenv:merge]" in (ROOT / "tox.ini").read_text()


def test_the_baseline_is_the_target_branchs_last_merge() -> None:
    """copyArtifacts, for a change request only: from its target branch's job (a sibling in
    the multibranch project), its last successful build, the merged summary.json that build
    archived, into where .ci/gate looks; optional, so a target without one is no error."""
    code = re.sub(r"//.*", "", JENKINSFILE.read_text())
    args = copy_artifacts(code)
    assert args == {
        "projectName": "\"../${env.CHANGE_TARGET.replace('/', '%2F')}\"",
        "selector": "lastSuccessful()",
        "filter": "'merged/latest/summary.json'",
        "target": "'baseline'",
        "flatten": "true",
        "optional": "true",
    }
    assert re.search(r"if \(env\.CHANGE_TARGET\) \{\s*copyArtifacts\(", code)
    assert code.index("copyArtifacts(") < code.index(".ci/gate ")
    assert "archiveArtifacts artifacts: 'merged/**'" in code  # what the next build copies
    assert "copyArtifactPermission('PR-*,MR-*')" in code
    gate = GATE.read_text()
    assert "baseline=baseline/summary.json" in gate  # target + the filter's file name, flat
    # A branch's own failing build stays unstable, so that it is still a baseline.
    assert "if (status == 1 && !env.CHANGE_TARGET) {" in code and "unstable(" in code


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


def sh_output(command: str, workspace: Path, env: dict[str, str]) -> tuple[int, str]:
    """The same, its log kept."""
    proc = subprocess.run(
        ["sh", "-xec", command], cwd=workspace, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def needs_what_agents_have() -> None:
    """./run installs what is missing, as root: not from a test.  Skip where it would."""
    env = agent_env()
    if shutil.which("tox", path=env["PATH"]) is None:
        pytest.skip("tox is not on PATH (./run's .ci/setup installs Debian's)")
    check = subprocess.run(
        [str(ROOT / ".ci" / "setup"), "--check"], env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if check.returncode != 0:
        pytest.skip(f"./run would install packages first: {check.stderr.strip()}")


def test_the_last_stage_over_successive_builds(tmp_path: Path) -> None:
    """The last stage's command in one workspace, build after build (what deleteDir and
    unstash leave; .tox kept), on recorded runs of two kernels: a branch's own builds have no
    baseline (the log says so), a change request's has the target's last merged
    summary.json where copyArtifacts puts it, and the gate's verdict is against it."""
    needs_what_agents_have()
    code = re.sub(r"//.*", "", JENKINSFILE.read_text())
    copy = copy_artifacts(code)
    baseline_file = Path(copy["target"].strip("'")) / Path(copy["filter"].strip("'")).name
    archived = Path(copy["filter"].strip("'"))
    labels = ["debian-6.1", "debian-6.12"]
    command = MERGE[0].replace(
        " ".join(f"results-{x}" for x in LABELS), " ".join(f"results-{x}" for x in labels)
    )
    workspace = tmp_path / "workspace"
    checkout(workspace)

    def build(n: int, expectations_612: bool, baseline: Path | None) -> tuple[int, str, Path]:
        for old in ["merged", "baseline", *(f"results-{x}" for x in labels)]:
            shutil.rmtree(workspace / old, ignore_errors=True)
        for label in labels:  # unstash: each agent's results directory
            good = expectations_612 if label == "debian-6.12" else True
            recorded_run(
                workspace / f"results-{label}", f"20261203-0{n}0000-{label}", {label: good}
            )
        if baseline is not None:  # copyArtifacts, flattened into its target
            (workspace / baseline_file).parent.mkdir()
            shutil.copy(baseline, workspace / baseline_file)
        status, log = sh_output(command, workspace, agent_env())
        kept = tmp_path / f"build{n}-{archived.name}"  # archiveArtifacts 'merged/**'
        shutil.copy(workspace / archived, kept)
        return status, log, kept

    # The target branch, its known bugs expected: no baseline, passes.
    status, log, base_good = build(1, True, None)
    assert status == 0 and "residency: no baseline" in log, log
    assert "baseline" not in load(base_good)
    # A change request where 6.12's two known bugs, xfail on the base, now fail: exit 1.
    status, log, regressed = build(2, False, base_good)
    assert status == 1, log
    assert f"residency: gate against the baseline {baseline_file}" in log
    summary = load(regressed)
    assert summary["baseline"]["run"] == load(base_good)["run_id"]
    regressions = sorted(r["subtest"] for r in summary["results"] if r["baseline"] == "regression")
    assert regressions == [
        "memfd_max_size_last_byte_seek_data", "memfd_max_size_last_byte_seek_hole_isize",
    ]  # fmt: skip
    for subtest in regressions:
        assert subtest in log
    # The target branch failing the same way (unstable, still its baseline), then a change
    # request with the same failures: still failing, so the gate passes.
    status, log, base_bad = build(3, False, None)
    assert status == 1 and "residency: no baseline" in log, log
    status, log, same = build(4, False, base_bad)
    assert status == 0, log
    classes = {r["baseline"] for r in load(same)["results"]}
    assert "still failing" in classes and "regression" not in classes


@pytest.mark.slow
@pytest.mark.qemu
def test_the_jenkinsfile_commands_on_two_real_kernels(tmp_path: Path) -> None:
    needs_what_agents_have()
    steps = sh_steps(JENKINSFILE.read_text())
    cell, merge = steps[: len(CELL)], steps[len(CELL) :]
    chosen = [PRESETS[0], PRESETS[-1]]
    agents = {}
    for preset in chosen:
        # Each cell in a fresh checkout of its own (./run's .ci/setup finds nothing missing
        # on a machine that has what it installs).
        workspace = tmp_path / f"agent-{preset.replace(':', '-')}"
        checkout(workspace)
        codes = [sh(c, workspace, agent_env(preset)) for c in cell]
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
