"""Our selftests/kselftest.h against the kernel's own, from Debian's linux-source packages.

One probe program (tests/kselftest_probe/probe.c) is built against our header and against
upstream's, and run over scenarios that cover the API our tests use; stdout and the exit
code must be the same byte for byte.  Upstream's header is downloaded at test time
(orchestrator.upstream, cached), never committed.  A download failure fails these tests.

Our header follows 7.3.  Where 6.12 behaves differently by design, the expectation says so
below (KNOWN_612) and the test is a strict xfail: it must still differ, else the entry is
stale.  The programs of selftests/vm must also build, warning-free, against both headers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import InfraError
from orchestrator.upstream import UpstreamHeader, fetch_kselftest_header

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).parent / "kselftest_probe" / "probe.c"
OURS = ROOT / "selftests"
VM = ROOT / "selftests" / "vm"
# selftests/vm/Makefile's warnings: a subtest row may leave out its optional setup
CFLAGS = ["-Wall", "-Wextra", "-Wno-missing-field-initializers", "-O2", "-D_FILE_OFFSET_BITS=64"]
VERSIONS = ["7.3", "6.12"]

# argv of the probe, and whether KSFT_TAP_LEVEL is set (a runner nesting our output)
SCENARIOS: list[tuple[tuple[str, ...], bool]] = [
    *(((name,), False) for name in (
        "all_pass", "one_fail", "code_expected", "code_unknown", "code_odd_messages",
        "directives", "xpass_fn", "report_each", "messages", "exit_skip_before_plan",
        "exit_skip_after_plan", "exit_skip_after_result", "exit_fail_msg", "exit_fail_perror",
        "finished_short", "finished_long", "counters", "fork_child", "errno_in_format",
    )),
    *((("code_each", variant), False) for variant in ("msg", "empty", "null")),
    *((("exit", which), False) for which in ("pass", "fail", "xfail", "xpass", "true", "false")),
    (("all_pass",), True),
    (("exit_skip_before_plan",), True),
]  # fmt: skip

# Where 6.12's header differs from 7.3's (and so from ours) by design.
KNOWN_612 = {
    "code_expected": "6.12's ksft_finished() counts an XPASS as a failure: exit 1, not 0",
    "xpass_fn": "6.12 has no ksft_test_result_xpass()",
    "report_each": "6.12's ksft_test_result_report() ignores KSFT_XPASS",
    "exit_skip_after_plan": "6.12's ksft_exit_skip() after a plan numbers its result N + 1",
    "exit_skip_after_result": "6.12's ksft_exit_skip() after a result numbers its result N + 1",
}
# 7.3 (and we) print this hint before the totals whenever something was skipped; 6.12 does
# not, so it is taken out of our output before comparing with 6.12's.
SKIP_HINT_RE = re.compile(rb"^# \d+ skipped test\(s\) detected\. .*\n", re.MULTILINE)


def _compile(header_dir: Path, sources: list[Path], out: Path, *extra: str) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (install gcc)"
    proc = subprocess.run(
        [cc, *CFLAGS, *extra, "-I", str(header_dir), *map(str, sources), "-o", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"building {out.name} against {header_dir} failed:\n{proc.stderr}"
    return proc.stderr


@pytest.fixture(scope="module", params=VERSIONS)
def upstream(request: pytest.FixtureRequest) -> UpstreamHeader:
    version: str = request.param
    try:
        return fetch_kselftest_header(version)
    except InfraError as e:
        pytest.fail(
            f"cannot get upstream kselftest.h from Debian's linux-source-{version}: {e} ({e.fix})",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def our_probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("probe-ours") / "probe"
    _compile(OURS, [PROBE], out, "-Werror")
    return out


@pytest.fixture(scope="module")
def upstream_probe(upstream: UpstreamHeader, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"probe-{upstream.version}") / "probe"
    extra = ["-DPROBE_NO_XPASS_FN"] if upstream.version == "6.12" else []
    _compile(upstream.path.parent, [PROBE], out, "-Werror", *extra)
    return out


def _run(probe: Path, argv: tuple[str, ...], tap_level: bool) -> tuple[bytes, int]:
    env = {k: v for k, v in os.environ.items() if k != "KSFT_TAP_LEVEL"}
    if tap_level:
        env["KSFT_TAP_LEVEL"] = "1"
    proc = subprocess.run(
        [str(probe), *argv], env=env, capture_output=True, timeout=30, check=False
    )
    assert proc.returncode != 100, f"probe does not know scenario {argv}"
    return proc.stdout, proc.returncode


def _ids(scenario: tuple[tuple[str, ...], bool]) -> str:
    argv, tap_level = scenario
    return "-".join(argv) + ("-tap_level" if tap_level else "")


@pytest.fixture(params=SCENARIOS, ids=_ids)
def scenario(
    request: pytest.FixtureRequest, upstream: UpstreamHeader
) -> tuple[tuple[str, ...], bool]:
    value: tuple[tuple[str, ...], bool] = request.param
    reason = KNOWN_612.get(value[0][0])
    if upstream.version == "6.12" and reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError))
    return value


def test_probe_output_matches_upstream(
    upstream: UpstreamHeader,
    our_probe: Path,
    upstream_probe: Path,
    scenario: tuple[tuple[str, ...], bool],
) -> None:
    argv, tap_level = scenario
    ours, our_code = _run(our_probe, argv, tap_level)
    theirs, their_code = _run(upstream_probe, argv, tap_level)
    if upstream.version == "6.12":
        ours = SKIP_HINT_RE.sub(b"", ours)
    where = f"{upstream.package} {upstream.package_version}, probe {' '.join(argv)}"
    assert ours.decode(errors="replace") == theirs.decode(errors="replace"), where
    assert ours == theirs, where
    assert our_code == their_code, f"{where}: exit {our_code}, upstream exits {their_code}"


@pytest.mark.parametrize(
    "program", sorted(p.stem for p in VM.glob("*.c") if p.stem != "residency_util")
)
def test_programs_build_against_upstream(
    upstream: UpstreamHeader, program: str, tmp_path: Path
) -> None:
    """Our programs use only what upstream's header offers, without a warning."""
    sources = [VM / f"{program}.c", VM / "residency_util.c"]
    warnings = _compile(upstream.path.parent, sources, tmp_path / program, "-I", str(VM))
    assert warnings == "", f"{program} against {upstream.package} {upstream.package_version}:"
