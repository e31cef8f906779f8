"""The report of a verify run: a summary table and a one-line verdict on stdout, and a folder with the
history (``history.jsonl``), each master's log, ``checks.json`` and ``report.html`` (the check results and a
timeline plot: the latency of every op over time, coloured by outcome, with the fault windows shaded)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from pathlib import Path

from raftkube.verify.checks import Check, fault_windows, ops_of

COLOURS = {"ok": "#2a9d4a", "fail": "#e0a000", "unknown": "#d62728"}
FAULT_COLOURS = {"kill": "#d62728", "pause": "#9467bd", "partition": "#1f77b4", "netem": "#17becf",
                 "power": "#8c564b"}


def verdict(checks: list[Check]) -> bool:
    return all(c.ok is True for c in checks)


def summary(records: list[dict], checks: list[Check], figures: dict) -> str:
    ops = ops_of(records, ("read", "cas", "create", "delete"))
    by = Counter((r["f"], r["outcome"]) for r in ops)
    lines = ["ops          ok    fail  unknown"]
    for f in ("read", "cas", "create", "delete"):
        lines.append(f"{f:<10} {by[(f, 'ok')]:>5} {by[(f, 'fail')]:>7} {by[(f, 'unknown')]:>8}")
    faults = Counter(r["fault"] for r in records if r.get("type") == "fault" and r["action"] == "start")
    lines.append("faults       " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none"))
    per = figures.get("per_fault_longest_gap_s", {})
    if per:
        lines.append("longest without an acknowledged write during: "
                     + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(per.items())))
    lines.append("")
    for c in checks:
        mark = {True: "ok", False: "FAILED", None: "UNDECIDED"}[c.ok]
        lines.append(f"{c.name:<24} {mark:<9} {c.summary}")
        lines += [f"    {d}" for d in c.details[:40]]
    return "\n".join(lines)


def timeline_png(records: list[dict]) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = ops_of(records, ("read", "cas", "create", "delete"))
    end = max((r["end"] for r in ops), default=1.0)
    fig, ax = plt.subplots(figsize=(14, 5), dpi=90)
    for w in fault_windows(records, end):
        ax.axvspan(w["start"], max(w["heal"], w["start"] + 0.2), color=FAULT_COLOURS.get(w["fault"], "grey"),
                   alpha=0.15, lw=0)
    for oc, colour in COLOURS.items():
        xs = [r["start"] for r in ops if r["outcome"] == oc]
        ys = [max(r["end"] - r["start"], 1e-4) * 1000 for r in ops if r["outcome"] == oc]
        ax.scatter(xs, ys, s=3, c=colour, label=f"{oc} ({len(xs)})", alpha=0.6, lw=0)
    for kind, colour in FAULT_COLOURS.items():
        ax.axvspan(0, 0, color=colour, alpha=0.3, label=kind)
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the start")
    ax.set_ylabel("latency (ms)")
    ax.set_title("every op: latency over time, by outcome; faults shaded")
    ax.legend(loc="upper right", fontsize=8, ncol=2, markerscale=3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def write_html(folder: Path, records: list[dict], checks: list[Check], figures: dict, meta: dict) -> Path:
    png = base64.b64encode(timeline_png(records)).decode()
    ok = verdict(checks)
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td class={'ok' if c.ok else 'bad'}>"
        f"{ {True: 'ok', False: 'FAILED', None: 'UNDECIDED'}[c.ok]}</td><td>{html.escape(c.summary)}"
        + ("<pre>" + html.escape("\n".join(c.details)) + "</pre>" if c.details else "") + "</td></tr>"
        for c in checks)
    faults = "".join(
        f"<tr><td>{w['start']:.2f}</td><td>{w['heal']:.2f}</td><td>{html.escape(w['detail'])}</td>"
        f"<td>{w['longest_gap_s']:.2f}</td><td>{_seconds(w['recovery_s'])}</td></tr>"
        for w in figures.get("faults", []))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>raftkube verify</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}
table{{border-collapse:collapse}} .ok{{color:#2a9d4a;font-weight:bold}} .bad{{color:#d62728;font-weight:bold}}
pre{{font-size:11px;max-height:20em;overflow:auto}}</style></head><body>
<h1>raftkube verify: <span class={'ok' if ok else 'bad'}>{'all checks hold' if ok else 'CHECKS FAILED'}</span></h1>
<p>{html.escape(json.dumps(meta))}</p>
<img src="data:image/png;base64,{png}" alt="timeline">
<h2>Checks</h2><table>{rows}</table>
<h2>Summary</h2><pre>{html.escape(summary(records, checks, figures))}</pre>
<h2>Faults</h2><table><tr><th>start (s)</th><th>heal (s)</th><th>fault</th><th>longest without an acked write (s)</th>
<th>first acked write after the heal (s)</th></tr>{faults}</table>
<p>The history is <code>history.jsonl</code>; each master's log is <code>NAME.log</code>.</p></body></html>"""
    path = folder / "report.html"
    path.write_text(page)
    (folder / "checks.json").write_text(json.dumps(
        {"ok": ok, "checks": [c.__dict__ for c in checks], "figures": figures}, indent=1, default=str))
    return path
