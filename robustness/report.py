"""The report folder: ``report.json`` (every figure), ``report.md`` and a self-contained
``report.html`` (inline SVG plots, no external files or scripts).

Changed characters are highlighted with :mod:`difflib`; invisible characters (zero-width
spaces, ...) are shown by their code point so that an edit is never hidden.
"""

from __future__ import annotations

import difflib
import html
import io
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zhaug.io import atomic_write_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .55em;text-align:right}
th{background:#f4f4f4}td{white-space:nowrap}table.wrap td{white-space:normal}td.l,th.l{text-align:left}
.ci{color:#888;font-size:.8em}.muted{color:#777;font-size:.85em}
.kpi{display:inline-block;margin:0 1.2em .8em 0;padding:.6em 1em;border-radius:6px;background:#f4f6fa}
.kpi b{display:block;font-size:1.5em}.fail{background:#fde8e8;color:#a00}.pass{background:#e6f5ea;color:#075}
del{background:#fbb;text-decoration:line-through}ins{background:#bfb;text-decoration:none}
ins.cf{background:#fd5;font-size:.75em;font-family:monospace}
.ex{border:1px solid #e4e4e4;border-radius:6px;padding:.5em .8em;margin:.5em 0}.ex div{margin:.15em 0}
.tag{display:inline-block;font-size:.75em;padding:0 .4em;border-radius:3px;background:#eee;margin-right:.4em}
.flip{background:#fdd;color:#900}svg{max-width:100%;height:auto}
"""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(estimate: dict[str, float] | None, digits: int = 3) -> str:
    if not estimate:
        return "—"
    return f"{estimate['value']:.{digits}f} [{estimate['low']:.{digits}f}, {estimate['high']:.{digits}f}]"


def _ci_html(estimate: dict[str, float] | None, digits: int = 3) -> str:
    if not estimate:
        return "—"
    return f"{estimate['value']:.{digits}f} <span class='ci'>[{estimate['low']:.{digits}f}, {estimate['high']:.{digits}f}]</span>"


def _visible(text: str) -> str:
    """Escaped text; format characters (zero-width spaces, ...) shown as their code point."""
    return "".join(
        f'<ins class="cf">U+{ord(c):04X}</ins>' if unicodedata.category(c) == "Cf" else html.escape(c) for c in text
    )


def diff_html(original: str, changed: str) -> tuple[str, str]:
    """Both texts as HTML: deleted / replaced characters in ``<del>``, new ones in ``<ins>``."""
    left, right = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, original, changed, autojunk=False).get_opcodes():
        a, b = original[i1:i2], changed[j1:j2]
        if tag == "equal":
            left.append(html.escape(a))
            right.append(html.escape(b))
            continue
        if a:
            left.append(f"<del>{_visible(a)}</del>")
        if b:
            right.append(f"<ins>{_visible(b)}</ins>" if any(unicodedata.category(c) != "Cf" for c in b) else _visible(b))
    return "".join(left), "".join(right)


def diff_markdown(original: str, changed: str) -> str:
    """The changed text with edits marked ``~~old~~**new**`` (invisible characters as ``<U+200B>``)."""
    show = lambda s: "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) == "Cf" else c for c in s)  # noqa: E731
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, original, changed, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(changed[j1:j2])
            continue
        out.append((f"~~{original[i1:i2]}~~" if i2 > i1 else "") + (f"**{show(changed[j1:j2])}**" if j2 > j1 else ""))
    return "".join(out).replace("|", "\\|").replace("\n", " ")


def _families(report: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(cell["family"] for cell in report["cells"]))


def _svg(fig: Figure) -> str:
    """The figure as inline SVG, text kept as text (searchable, and small)."""
    import matplotlib  # 0.6 s to import: only when a report is drawn, so `zhaug --help` stays fast

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def accuracy_plot(report: dict[str, Any]) -> str:
    """Small multiples: accuracy (with 95% band) vs severity per family, clean accuracy dashed;
    with a single severity, one bar chart of the families instead (a panel would be one dot)."""
    families = _families(report)
    if len(report["meta"]["severities"]) == 1:
        return _accuracy_bars(report, families)
    cols = 5
    rows = (len(families) + cols - 1) // cols
    from matplotlib.figure import Figure  # see _svg

    fig = Figure(figsize=(2.3 * cols, 1.9 * rows))
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    clean = report["clean"]["accuracy"]["value"]
    for ax, family in zip(axes.flat, families):
        cells = [c for c in report["cells"] if c["family"] == family]
        x = [c["severity"] for c in cells]
        ax.axhline(clean, color="#888", linestyle="--", linewidth=1)
        ax.fill_between(x, [c["accuracy"]["low"] for c in cells], [c["accuracy"]["high"] for c in cells],
                        color="#4c72b0", alpha=0.2, linewidth=0)
        ax.plot(x, [c["accuracy"]["value"] for c in cells], marker="o", color="#4c72b0", markersize=3)
        ax.set_title(family, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xticks(range(1, 6))
    for ax in list(axes.flat)[len(families):]:
        ax.set_visible(False)
    fig.supxlabel("severity", fontsize=8)
    fig.supylabel("accuracy (dashed: clean)", fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def _accuracy_bars(report: dict[str, Any], families: list[str]) -> str:
    """Accuracy per family (95% interval) at the one severity audited, clean accuracy dashed."""
    cells = {c["family"]: c["accuracy"] for c in report["cells"]}
    values = np.array([cells[f]["value"] for f in families])
    errors = np.array([[cells[f]["value"] - cells[f]["low"], cells[f]["high"] - cells[f]["value"]] for f in families]).T
    from matplotlib.figure import Figure  # see _svg

    fig = Figure(figsize=(6, 0.3 * len(families) + 1))
    ax = fig.subplots()
    ax.barh(range(len(families)), values, xerr=errors, color="#4c72b0", alpha=0.8, error_kw={"linewidth": 1})
    ax.axvline(report["clean"]["accuracy"]["value"], color="#888", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(families)), families, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.tick_params(labelsize=7)
    ax.set_xlabel(f"accuracy at severity {report['meta']['severities'][0]} (dashed: clean)", fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def flip_plot(report: dict[str, Any]) -> str:
    """Heat map of flip rates, family × severity (ACC families marked: flips may be legitimate)."""
    families, severities = _families(report), report["meta"]["severities"]
    grid = np.full((len(families), len(severities)), np.nan)
    expectation = {}
    for cell in report["cells"]:
        grid[families.index(cell["family"]), severities.index(cell["severity"])] = cell["flip_rate"]["value"]
        expectation[cell["family"]] = cell["expectation"]
    from matplotlib.figure import Figure  # see _svg

    fig = Figure(figsize=(1.1 * len(severities) + 2.6, 0.3 * len(families) + 1))
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="Reds", vmin=0, vmax=max(0.2, float(np.nanmax(grid))), aspect="auto")
    for (r, c), value in np.ndenumerate(grid):
        ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value > 0.6 * image.get_clim()[1] else "black")
    ax.set_xticks(range(len(severities)), [f"severity {s}" for s in severities], fontsize=7)
    ax.set_yticks(range(len(families)), [f"{f} ({expectation[f]})" for f in families], fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.05).ax.tick_params(labelsize=7)
    ax.set_title("prediction flip rate", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def _cell_table(report: dict[str, Any], *, html_out: bool) -> list[list[str]]:
    ci = _ci_html if html_out else _ci
    rows = []
    for c in report["cells"]:
        flip = ci(c["flip_rate"])
        rows.append([
            c["family"], str(c["severity"]), c["expectation"], _fmt(c["changed_rate"], 2), ci(c["accuracy"]),
            _fmt(c["accuracy_drop"]["value"]), ci(c["macro_f1"]), _fmt(c["macro_f1_drop"]["value"]),
            f"<b>{flip}</b>" if html_out and c["expectation"] == "INV" and c["flip_rate"]["value"] > 0 else flip,
            _fmt(c["confidence_shift"]["value"]), _fmt(c["ece"]),
        ])
    return rows


WORST_EXAMPLES = ("Per family at the highest severity: prediction flips first, then the largest drop in the clean "
                  "prediction's probability (flips that fixed a wrong prediction are listed apart, below).")
CELL_HEADER = ["family", "sev.", "exp.", "changed", "accuracy [95% CI]", "acc. drop", "macro-F1 [95% CI]", "F1 drop",
               "flip rate [95% CI]", "conf. shift", "ECE"]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, wrap: bool = False) -> str:
    """A table whose first ``left`` columns are left-aligned; cells do not wrap unless ``wrap``."""
    head = "".join(f'<th class="l">{h}</th>' if i < left else f"<th>{h}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="l">{v}</td>' if i < left else f"<td>{v}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table{' class=wrap' if wrap else ''}><tr>{head}</tr>{body}</table>"


def _per_class(report: dict[str, Any]) -> tuple[int, list[str], list[list[str]]]:
    """(highest severity, classes, rows of "accuracy / flip rate" per family and gold class)."""
    top = max(report["meta"]["severities"])
    classes = list(report["clean"]["per_class"])
    rows = [[c["family"]] + [f"{c['per_class'][k]['accuracy']:.3f} / {c['per_class'][k]['flip_rate']:.3f}"
                             if k in c["per_class"] else "—" for k in classes]
            for c in report["cells"] if c["severity"] == top]
    return top, classes, rows


def _attack_rows(attack: dict[str, Any]) -> list[list[str]]:
    return [
        ["rows attacked", str(attack["n_attacked"])],
        ["success rate [95% CI]", _ci(attack["success_rate"])],
        ["queries per sample", _fmt(attack["queries_per_sample"], 1)],
        ["modification rate (successes)", _fmt(attack["modification_rate"])],
        ["character similarity (successes)", _fmt(attack["char_similarity"])],
        ["embedding cosine (successes)", _fmt(attack["embedding_cosine"])],
        ["seconds per sample", _fmt(attack["seconds_per_sample"], 3)],
    ]


def _gate_text(report: dict[str, Any]) -> str | None:
    gate = report.get("gate")
    if not gate:
        return None
    if gate["failures"]:
        return "FAILED " + "; ".join(gate["failures"])
    return "passed " + ", ".join(gate["thresholds"])


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    meta, clean = report["meta"], report["clean"]
    lines = [
        "# zhaug robustness audit", "",
        f"Model `{meta['model'] or 'predict_proba'}` · {meta['n_rows']} rows · classes {', '.join(meta['classes'])} · "
        f"seed {meta['seed']} · severities {meta['severities']} · zhaug {meta['zhaug']}", "",
        f"- **Robustness score: {_fmt(report['score'], 1)}** (100 × mean over INV families of 1 − flip rate)",
        f"- Clean accuracy {_ci(clean['accuracy'])}, macro-F1 {_ci(clean['macro_f1'])}, ECE {_fmt(clean['ece'])}",
    ]
    lines += [f"- **Warning:** {w}" for w in report.get("warnings", [])]
    gate = _gate_text(report)
    if gate:
        lines.append(f"- Release gate: **{gate}**")
    lines += ["", "## Family × severity", "", _md_table(CELL_HEADER, _cell_table(report, html_out=False))]
    lines += ["", "## Per class (highest severity)", ""]
    top, classes, rows = _per_class(report)
    lines += ["accuracy / flip rate per gold class; clean accuracy: "
              + ", ".join(f"{k} {v['accuracy']:.3f} (n={v['n']})" for k, v in clean["per_class"].items()), "",
              _md_table(["family", *classes], rows)]
    attack = report.get("attack")
    if attack:
        lines += ["", "## Attack", "", _md_table(["figure", "value"], _attack_rows(attack))]
    lines += ["", "## Worst examples", "", WORST_EXAMPLES, "", _md_table(
        ["family", "sev.", "id", "gold", "clean → perturbed", "perturbed text"],
        [[w["family"], str(w["severity"]), w["id"], w["label"], f"{w['clean_prediction']} → {w['perturbed_prediction']}",
          diff_markdown(w["original"], w["perturbed"])] for w in report["worst_examples"]],
    ), ""]
    if report.get("fixed_examples"):
        lines += ["## Flips that fixed a wrong prediction", "", _md_table(
            ["family", "sev.", "id", "gold", "clean → perturbed", "perturbed text"],
            [[w["family"], str(w["severity"]), w["id"], w["label"],
              f"{w['clean_prediction']} → {w['perturbed_prediction']}", diff_markdown(w["original"], w["perturbed"])]
             for w in report["fixed_examples"]],
        ), ""]
    return "\n".join(lines)


def _example_html(title: str, original: str, changed: str, tags: Sequence[str]) -> str:
    left, right = diff_html(original, changed)
    badges = "".join(f'<span class="tag{" flip" if "→" in t else ""}">{html.escape(t)}</span>' for t in tags)
    return (f'<div class="ex"><div>{badges}<b>{html.escape(title)}</b></div>'
            f'<div><span class="muted">original</span> {left}</div><div><span class="muted">perturbed</span> {right}</div></div>')


def _worst_html(w: dict[str, Any]) -> str:
    tags = [f"{w['family']} s{w['severity']}", f"gold {w['label']}",
            f"{w['clean_prediction']} → {w['perturbed_prediction']}" if w["flipped"] else "no flip",
            f"conf. drop {w['confidence_drop']:.3f}"]
    return _example_html(w["id"], w["original"], w["perturbed"], tags)


def _examples_html(report: dict[str, Any]) -> list[str]:
    """The attack's successful examples, the worst examples and the flips that fixed a prediction."""
    parts = []
    attack = report.get("attack")
    if attack:
        won = [r for r in attack["rows"] if r["success"]]
        parts += ["<h2>Budgeted attack</h2>", _html_table(["figure", "value"], _attack_rows(attack))]
        parts += [_example_html(f"{r['id']} · {r['changed_words']} word(s), {r['queries']} queries", r["original"],
                                r["adversarial"], [f"{r['label']} → {r['prediction']}"]) for r in won[:8]]
    parts.append(f"<h2>Worst examples</h2><p class='muted'>{WORST_EXAMPLES}</p>")
    parts += [_worst_html(w) for w in report["worst_examples"]]
    if report.get("fixed_examples"):
        parts.append("<h2>Flips that fixed a wrong prediction</h2><p class='muted'>The noise changed a wrong "
                     "prediction into the gold label: a flip, but not harm.</p>")
        parts += [_worst_html(w) for w in report["fixed_examples"]]
    return parts


def to_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    meta, clean = report["meta"], report["clean"]
    gate = _gate_text(report)
    kpis = [("robustness score", _fmt(report["score"], 1), ""), ("clean accuracy", _fmt(clean["accuracy"]["value"]), ""),
            ("clean macro-F1", _fmt(clean["macro_f1"]["value"]), ""), ("clean ECE", _fmt(clean["ece"]), "")]
    if report.get("attack"):
        kpis.append(("attack success", _fmt((report["attack"]["success_rate"] or {}).get("value")), ""))
    if gate:
        kpis.append(("release gate", gate.split()[0], "fail" if gate.startswith("FAILED") else "pass"))
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>zhaug robustness audit</title>"
        f"<style>{CSS}</style></head><body><h1>zhaug robustness audit</h1>",
        f"<p class='muted'>Model <code>{html.escape(meta['model'] or 'predict_proba')}</code> · {meta['n_rows']} rows · "
        f"classes {html.escape(', '.join(meta['classes']))} · seed {meta['seed']} · severities {meta['severities']} "
        f"(edit rates {', '.join(str(meta['severity_rates'][s - 1]) for s in meta['severities'])}) · "
        f"{meta['n_resamples']} bootstrap resamples · zhaug {meta['zhaug']}</p>",
        "".join(f'<div class="kpi {cls}">{name}<b>{value}</b></div>' for name, value, cls in kpis),
    ]
    if gate:
        parts.append(f'<p class="{"fail" if gate.startswith("FAILED") else "pass"}">Release gate: {html.escape(gate)}</p>')
    parts += [f'<p class="fail">Warning: {html.escape(w)}</p>' for w in report.get("warnings", [])]
    parts += [
        "<p class='muted'>Robustness score = 100 × mean over label-preserving (INV) families of (1 − flip rate "
        "averaged over severities). Read it with the clean accuracy: a constant classifier never flips.</p>",
        "<h2>Accuracy vs severity</h2>", accuracy_plot(report),
        "<h2>Flip rates</h2>", flip_plot(report),
        "<h2>Family × severity</h2><p class='muted'>exp.: INV = label-preserving, the prediction should not change "
        "(flip rate is the failure rate); ACC = the label may change, judge accuracy only. changed: share of rows "
        "the perturbation changed. Δ = clean − perturbed.</p>",
        _html_table(CELL_HEADER, _cell_table(report, html_out=True), left=1),
    ]
    top, classes, rows = _per_class(report)
    parts += [
        f"<details><summary><b>Per class</b> (severity {top}: accuracy / flip rate per gold class)</summary>",
        _html_table(["family", *[f"{html.escape(k)} (clean {v['accuracy']:.3f}, n={v['n']})"
                                 for k, v in clean["per_class"].items()]], rows), "</details>",
    ]
    parts += _examples_html(report)
    parts += [
        "<h2>Families</h2>",
        _html_table(["family", "operation", "unit", "exp.", "may change labels of", "what it does"], [
            [f["name"], html.escape(f"{f['op']} {f['params'] or ''}"), f["unit"], f["expectation"],
             html.escape(", ".join(f["may_change"]) or "—"), html.escape(f["description"])]
            for f in meta["families"]
        ], left=6, wrap=True),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {name: out / f"report.{name}" for name in ("json", "md", "html")}
    atomic_write_text(paths["json"], json.dumps(report, ensure_ascii=False, indent=2))
    atomic_write_text(paths["md"], markdown(report))
    atomic_write_text(paths["html"], to_html(report))
    return paths
