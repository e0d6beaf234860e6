"""Step 7, for people: the run as one self-contained HTML page (report.html).

`render(summary)` is a pure function of the data summary.json holds, so a run and the merge
of several runs (`orchestrator.merge`) write the same page.  The page needs no network: its
CSS and script are inline, its links point into the run directory (TAP, console logs).
Every text from the run is escaped; the data the script shows on a click travels as JSON in
a <script type="application/json"> element and is put into the page with textContent.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from . import verdict

# The statuses of summary.json, in the order the legend and the counts show them.
STATUSES = ("pass", "fail", "skip", "xfail", "xpass", "crash", "timeout", "error")
STATUS_MEANING = {
    "pass": "passed",
    "fail": "failed",
    "skip": "skipped: a feature the kernel or the machine lacks",
    "xfail": "failed as expectations.toml expects",
    "xpass": "passed, but expectations.toml expects a failure",
    "crash": "the guest or the program died before this result came",
    "timeout": "the program hung before this result came",
    "error": "no usable result (bad TAP, bail out, taint, missing plan)",
}
GOOD_STATUSES = frozenset({"pass", "skip", "xfail"})
# The baseline classes summary.json may carry per result (--baseline), and the short mark
# each has in a cell.  The first three make the gate fail.
BASELINE_MARKS = {
    "regression": "regression",
    "new failure": "new failure",
    "gone": "gone",
    "still failing": "still failing",
    "fixed": "fixed",
    "new": "new",
}
GATE_BASELINE = frozenset({"regression", "new failure", "gone"})

CSS = """
html { scroll-padding-top: 10em; }  /* room for the sticky kernel header */
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 1.5em; color: #212121; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
.verdict { font-weight: bold; padding: .2em .6em; border-radius: 4px; }
.verdict.ok { background: #c8e6c9; } .verdict.bad { background: #ffcdd2; }
.verdict.infra { background: #ffe0b2; }
.box { border: 1px solid #bbb; border-radius: 4px; padding: .5em .8em; margin: .6em 0; }
.infra-errors { border-color: #e65100; background: #fff3e0; }
.incomplete { border-color: #c62828; background: #ffebee; }
.baseline { border-color: #1565c0; background: #e3f2fd; }
.chip { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 3px;
        padding: 0 .4em; margin: 0 .2em .2em 0; }
table.matrix { border-collapse: collapse; margin-top: .5em; }
.matrix th, .matrix td { border: 1px solid #ddd; padding: 2px 6px; }
.matrix thead th { position: sticky; top: 0; background: #fafafa; vertical-align: top;
                   text-align: left; font-weight: normal; }
.matrix thead th .kname { font-weight: bold; }
.matrix th.sub { text-align: left; font-weight: normal; font-family: monospace; }
.matrix tr.prog th, .matrix tr.prog td { background: #eceff1; font-weight: bold;
                                         text-align: left; }
.matrix tr.prog td { font-weight: normal; font-size: .9em; }
td.cell { text-align: center; cursor: pointer; white-space: nowrap; min-width: 6em; }
td.cell:focus, td.cell.selected { outline: 3px solid #1e88e5; outline-offset: -3px; }
.st-pass { background: #c8e6c9; color: #1b5e20; }
.st-fail { background: #e53935; color: #fff; }
.st-skip { background: #e0e0e0; color: #424242; }
.st-xfail { background: #d1c4e9; color: #311b92; }
.st-xpass { background: #ff9800; color: #000; }
.st-crash { background: #212121; color: #ff8a80; }
.st-timeout { background: #795548; color: #fff; }
.st-error { background: #ad1457; color: #fff; }
.st-other { background: #fff59d; color: #000; }
.st-none { background: #fff; color: #9e9e9e; cursor: default; }
.mark { display: block; font-size: .75em; font-weight: bold; }
td.bl-gate { box-shadow: inset 0 0 0 3px #d50000; }
td.bl-fixed { box-shadow: inset 0 0 0 3px #2e7d32; }
td.flaky { background-image: repeating-linear-gradient(45deg, transparent 0 6px,
           rgba(255,255,255,.45) 6px 10px); }
#detail-row > td { background: #e3f2fd; border: 2px solid #1e88e5; padding: .4em .9em; }
#detail { max-width: 80em; }
#detail pre { background: #fff; padding: .4em; margin: 0; white-space: pre-wrap;
              word-break: break-word; max-height: 30em; overflow: auto; }
#detail dt { font-weight: bold; } #detail dd { margin: 0 0 .3em 1em; }
#detail button { float: right; }
.links a { margin-right: .8em; white-space: nowrap; }
.muted { color: #757575; }
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("residency-data").textContent);
  // The details open in a row of their own under the clicked cell's row.
  var panel = document.getElementById("detail-row");
  function text(id, value) {
    var el = document.getElementById(id);
    el.textContent = value;
    el.closest("div").hidden = !value;
  }
  function links(id, items) {
    var el = document.getElementById(id);
    el.replaceChildren();
    items.forEach(function (item) {
      var a = document.createElement("a");
      a.setAttribute("href", item[1]);
      a.textContent = item[0];
      el.appendChild(a);
    });
    el.closest("div").hidden = items.length === 0;
  }
  function show(cell) {
    var r = data.results[Number(cell.dataset.i)];
    var p = r.p >= 0 ? data.programs[r.p] : null;
    document.querySelectorAll("td.cell.selected").forEach(function (c) {
      c.classList.remove("selected");
    });
    cell.classList.add("selected");
    cell.closest("tr").after(panel);
    text("d-title", r.kernel + " / " + r.program + " / " + r.subtest);
    text("d-status", r.status + (r.flaky ? " (flaky: failed first, passed when retried)" : ""));
    text("d-reason", r.reason);
    text("d-baseline", r.baseline || "");
    text("d-diagnostics", (r.diagnostics || []).join("\\n"));
    var program = "";
    if (p) {
      program = "outcome " + p.outcome + ", exit status " + p.exit_code +
        ", " + p.seconds + " s" + (p.detail ? "; " + p.detail : "") +
        (p.problems.length ? "; TAP problems: " + p.problems.join("; ") : "");
    }
    text("d-program", program);
    var items = [];
    if (p && p.tap) { items.push(["TAP of " + r.program, p.tap]); }
    (p ? p.console : []).forEach(function (href) { items.push(["console log " + href, href]); });
    links("d-links", items);
    panel.hidden = false;
  }
  if (!panel) { return; }
  document.querySelectorAll("td.cell").forEach(function (cell) {
    cell.addEventListener("click", function () { show(cell); });
    cell.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(cell); }
    });
  });
  document.getElementById("d-close").addEventListener("click", function () {
    panel.hidden = true;
  });
  document.getElementById("only-problems").addEventListener("change", function (e) {
    var only = e.target.checked;
    document.querySelectorAll("tr.row").forEach(function (row) {
      row.hidden = only && row.dataset.problem !== "1";
    });
    document.querySelectorAll("tr.prog").forEach(function (row) {
      row.hidden = only && row.dataset.problem !== "1";
    });
  });
}());
"""

# The details of the clicked cell, filled in by SCRIPT.
DETAIL = """<div id="detail">
<button type="button" id="d-close">close</button>
<dl>
<div><dt>result</dt><dd id="d-title"></dd></div>
<div><dt>status</dt><dd id="d-status"></dd></div>
<div><dt>reason</dt><dd id="d-reason"></dd></div>
<div><dt>against the baseline</dt><dd id="d-baseline"></dd></div>
<div><dt>diagnostics</dt><dd><pre id="d-diagnostics"></pre></dd></div>
<div><dt>program</dt><dd id="d-program"></dd></div>
<div><dt>logs</dt><dd class="links" id="d-links"></dd></div>
</dl>
</div>"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def href(path: object) -> str | None:
    """A link into the run directory, each segment URL-quoted; None for anything that is
    not a plain relative path (an absolute path or a URL stays text, never a link)."""
    if not isinstance(path, str) or not path:
        return None
    parts = path.split("/")
    if path.startswith("/") or ":" in parts[0] or ".." in parts:
        return None
    return "/".join(quote(part) for part in parts)


def _link(path: object, label: str) -> str:
    target = href(path)
    if target is None:
        return _e(label)
    return f'<a href="{_e(target)}">{_e(label)}</a>'


def status_class(status: str) -> str:
    return f"st-{status}" if status in STATUSES else "st-other"


def is_problem(result: Mapping[str, Any]) -> bool:
    """A result that needs a look: a bad status, a flaky one, or a gate baseline class."""
    return (
        str(result.get("status")) not in GOOD_STATUSES
        or bool(result.get("flaky"))
        or result.get("baseline") in GATE_BASELINE
    )


def _exit_words(status: object, infrastructure: bool) -> tuple[str, str]:
    """(css class, words) for the run's exit status, in the terminal's words."""
    css = {verdict.EXIT_OK: "ok", verdict.EXIT_INFRA: "infra"}
    css_class = css.get(status, "bad") if isinstance(status, int) else "bad"
    try:
        words = verdict.meaning(int(str(status)), infrastructure)
    except (KeyError, ValueError):
        return css_class, f"exit status {_e(status)}"
    return css_class, f"exit status {_e(status)}: {_e(words)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _counts_html(counts: Mapping[str, Any]) -> str:
    chips = []
    for status in STATUSES:
        n = counts.get(status, 0)
        if n:
            chips.append(f'<span class="chip {status_class(status)}">{_e(n)} {status}</span>')
    if counts.get("flaky"):
        chips.append(f'<span class="chip st-other">{_e(counts["flaky"])} flaky</span>')
    return "".join(chips) or '<span class="muted">no results</span>'


def _value_html(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{_e(k)}: {_e(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_e(v) for v in value)
    return _e(value)


def _baseline_html(summary: Mapping[str, Any], results: list[Mapping[str, Any]]) -> str:
    base = summary.get("baseline")
    classes = [str(r["baseline"]) for r in results if r.get("baseline")]
    if not isinstance(base, Mapping) and not classes:
        return ""
    rows = []
    if isinstance(base, Mapping):
        rows = [f"<dt>{_e(k)}</dt><dd>{_value_html(v)}</dd>" for k, v in base.items()]
    tally = {c: classes.count(c) for c in _ordered(classes)}
    marks = ", ".join(f"{n} {_e(c)}" for c, n in tally.items())
    return (
        '<section class="box baseline" id="baseline"><h2>Against the baseline</h2>'
        f"<dl>{''.join(rows)}</dl><p>{marks}</p></section>"
    )


def _infra_html(summary: Mapping[str, Any], consoles: Mapping[str, list[str]]) -> str:
    errors = [e for e in summary.get("infrastructure_errors") or [] if isinstance(e, Mapping)]
    if not errors:
        return ""
    items = []
    for err in errors:
        kernel = str(err.get("kernel", ""))
        logs = " ".join(_link(log, log) for log in consoles.get(kernel, []))
        items.append(
            f"<li><b>{_e(kernel)}</b> at {_e(err.get('step', ''))}: {_e(err.get('cause', ''))}"
            f"<br>fix: {_e(err.get('fix', ''))}"
            + (f'<br><span class="links">console: {logs}</span>' if logs else "")
            + "</li>"
        )
    return (
        '<section class="box infra-errors" id="infrastructure-errors">'
        f"<h2>Infrastructure errors ({len(errors)}): not test results</h2>"
        f"<ul>{''.join(items)}</ul></section>"
    )


def _kernel_header(kernel: Mapping[str, Any]) -> str:
    name = str(kernel.get("name", ""))
    what = kernel.get("preset") or kernel.get("tree") or kernel.get("image") or ""
    version = kernel.get("package_version") or kernel.get("version") or ""
    uname = kernel.get("uname_r") or "not booted"
    logs = " ".join(
        _link(log, f"console {i + 1}") for i, log in enumerate(kernel.get("console") or [])
    )
    return (
        f'<th data-kernel="{_e(name)}"><span class="kname">{_e(name)}</span><br>'
        f'<span class="muted">{_e(uname)}<br>{_e(what)} {_e(version)}</span>'
        + (f'<br><span class="links">{logs}</span>' if logs else "")
        + "</th>"
    )


def _cell(index: int, result: Mapping[str, Any]) -> str:
    status = str(result.get("status", ""))
    classes = ["cell", status_class(status)]
    marks = []
    if result.get("flaky"):
        classes.append("flaky")
        marks.append("flaky")
    baseline = result.get("baseline")
    if baseline in GATE_BASELINE:
        classes.append("bl-gate")
    elif baseline == "fixed":
        classes.append("bl-fixed")
    if baseline:
        marks.append(BASELINE_MARKS.get(str(baseline), str(baseline)))
    title = status + (f": {result.get('reason')}" if result.get("reason") else "")
    mark = "".join(f'<span class="mark">{_e(m)}</span>' for m in marks)
    return (
        f'<td class="{" ".join(classes)}" data-i="{index}" '
        f'data-status="{_e(status)}" data-baseline="{_e(baseline or "")}" tabindex="0" '
        f'title="{_e(title)}">{_e(status)}{mark}</td>'
    )


def _matrix_html(
    kernels: list[Mapping[str, Any]],
    kernel_names: list[str],
    programs: list[str],
    results: list[Mapping[str, Any]],
    program_info: Mapping[tuple[str, str], Mapping[str, Any]],
) -> str:
    index = {(str(r["kernel"]), str(r["program"]), str(r["subtest"])): i
             for i, r in enumerate(results)}  # fmt: skip
    by_name = {str(k.get("name")): k for k in kernels}
    head = "".join(_kernel_header(by_name.get(n, {"name": n})) for n in kernel_names)
    body = []
    for program in programs:
        subtests = _ordered(str(r["subtest"]) for r in results if r["program"] == program)
        ran = [program_info.get((k, program)) for k in kernel_names]
        rows = []
        any_problem = False
        for subtest in subtests:
            cells = []
            problem = False
            for kernel in kernel_names:
                i = index.get((kernel, program, subtest))
                if i is None:
                    cells.append('<td class="st-none" title="no such result">&middot;</td>')
                    continue
                cells.append(_cell(i, results[i]))
                problem |= is_problem(results[i])
            any_problem |= problem
            rows.append(
                f'<tr class="row" data-program="{_e(program)}" data-problem="{int(problem)}">'
                f'<th class="sub">{_e(subtest)}</th>{"".join(cells)}</tr>'
            )
        info = []
        for p in ran:
            if p is None:
                info.append('<td class="muted">not run</td>')
                continue
            logs = " ".join(_link(log, "console") for log in p.get("console") or [])
            outcome = p.get("outcome", "")
            info.append(
                f"<td>{_e(outcome) + ', ' if outcome != 'completed' else ''}"
                f"exit {_e(p.get('exit_code'))}, {_e(p.get('seconds', ''))} s "
                f'<span class="links">{_link(p.get("tap"), "TAP")} {logs}</span></td>'
            )
        body.append(
            f'<tr class="prog" data-program="{_e(program)}" data-problem="{int(any_problem)}">'
            f'<th id="program-{_e(program)}">{_e(program)}</th>{"".join(info)}</tr>'
        )
        body.extend(rows)
    body.append(
        f'<tr id="detail-row" hidden><td colspan="{len(kernel_names) + 1}">{DETAIL}</td></tr>'
    )
    return (
        f'<table class="matrix" id="matrix"><thead><tr><th>program / subtest</th>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _script_json(data: Any) -> str:
    """JSON that cannot end its <script> element early or open a comment in it."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render(summary: Mapping[str, Any]) -> str:
    """The whole page for one summary.json dict (a run's or a merge's)."""
    kernels = [k for k in summary.get("kernels") or [] if isinstance(k, Mapping)]
    results = [
        r
        for r in summary.get("results") or []
        if isinstance(r, Mapping) and all(k in r for k in ("kernel", "program", "subtest"))
    ]
    program_list = [p for p in summary.get("programs") or [] if isinstance(p, Mapping)]
    kernel_names = _ordered(
        [str(k.get("name", "")) for k in kernels] + [str(r["kernel"]) for r in results]
    )
    config = summary.get("config") or {}
    programs = _ordered(
        [str(p) for p in config.get("programs") or []]
        + [str(p.get("program")) for p in program_list]
        + [str(r["program"]) for r in results]
    )
    programs = [p for p in programs if any(r["program"] == p for r in results)]
    program_info = {(str(p.get("kernel")), str(p.get("program"))): p for p in program_list}
    program_index = {key: i for i, key in enumerate(program_info)}
    consoles = {str(k.get("name")): list(k.get("console") or []) for k in kernels}

    data = {
        "programs": [
            {
                "kernel": p.get("kernel"),
                "program": p.get("program"),
                "outcome": p.get("outcome", ""),
                "exit_code": p.get("exit_code"),
                "seconds": p.get("seconds"),
                "detail": p.get("detail") or "",
                "problems": list(p.get("problems") or []),
                "tap": href(p.get("tap")),
                "console": [h for h in map(href, p.get("console") or []) if h],
            }
            for p in program_info.values()
        ],
        "results": [
            {
                "kernel": r["kernel"],
                "program": r["program"],
                "subtest": r["subtest"],
                "status": r.get("status", ""),
                "reason": r.get("reason") or "",
                "flaky": bool(r.get("flaky")),
                "baseline": r.get("baseline") or "",
                "diagnostics": [str(d) for d in r.get("diagnostics") or []],
                "p": program_index.get((str(r["kernel"]), str(r["program"])), -1),
            }
            for r in results
        ],
    }

    infra = bool(summary.get("infrastructure_errors"))
    verdict_class, verdict = _exit_words(summary.get("exit_status"), infra)
    run_id = str(summary.get("run_id", ""))
    merged = summary.get("merged_from") or []
    merged_html = ""
    if merged:
        runs = ", ".join(
            f"{_e(m.get('run_id', ''))} ({_e(', '.join(m.get('kernels') or []))})"
            for m in merged
            if isinstance(m, Mapping)
        )
        merged_html = f"<p>merged from {_count(len(merged), 'run')}: {runs}</p>"
    incomplete = ""
    if summary.get("complete") is False:
        incomplete = (
            '<section class="box incomplete" id="incomplete"><b>This run is incomplete</b>: '
            "it was interrupted or stopped by an infrastructure error; the page shows what "
            "finished.</section>"
        )
    legend = "".join(
        f'<span class="chip {status_class(s)}" title="{_e(STATUS_MEANING[s])}">{s}</span>'
        for s in STATUSES
    )
    matrix = (
        _matrix_html(kernels, kernel_names, programs, results, program_info)
        if results
        else '<p class="muted" id="matrix">no test results</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>residency-kselftest {_e(run_id)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>residency-kselftest run {_e(run_id)}</h1>
<p><span class="verdict {verdict_class}" id="verdict">{verdict}</span>
<span class="muted">{_e(summary.get("started", ""))} &ndash; {_e(summary.get("finished", ""))}
&middot; {_count(len(kernel_names), "kernel")} &middot; {_count(len(results), "result")}</span></p>
{merged_html}
{_infra_html(summary, consoles)}
{incomplete}
<p id="counts">{_counts_html(summary.get("counts") or {})}</p>
{_baseline_html(summary, results)}
<p>Colours: {legend} <span class="muted">(click a cell for its reason and diagnostics;
a marked outline is the baseline's verdict)</span></p>
<p><label><input type="checkbox" id="only-problems"> only rows with a failure, crash,
timeout, error, unexpected pass, flaky result or regression</label></p>
{matrix}
<script type="application/json" id="residency-data">{_script_json(data)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
