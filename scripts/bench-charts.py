#!/usr/bin/env python3
"""Draws Performance's charts and writes its table of results from one run of the load bench.

The bench (`cargo bench -p selector-server --bench load`) writes every run of its rate
measurements, and its memory and throughput measures, as JSON (target/tmp/load-results.json,
or $LOAD_RESULTS). From that one file this script writes:

- docs/load-rates.svg: requests per second of the server and the floor, one-shot and
  keep-alive, with one event loop and with N: a bar for the median run of each (the figure
  the bench prints), a dot for every run (the run-to-run spread), and the ratio of the medians;
- the results table of docs/performance.md, between its `bench-charts` markers;
- when scripts/instructions.py has run (target/tmp/instructions.json, or $INSTRUCTIONS_RESULTS):
  docs/instructions.svg, instructions per keep-alive request of the server, its plain build and
  the floor, and their table in "Where the time goes", between its `bench-instructions` markers;

so that the chapter's numbers and its chart come from the same run. Python standard library
only. Run from the project's root: `cargo make bench-charts` (after `cargo make bench`), or
python3 scripts/bench-charts.py [RESULTS.json].
"""
import json
import os
import re
import sys
from pathlib import Path

BEGIN = "<!-- bench-charts: results table, from the bench's results file (cargo make bench-charts) -->"
END = "<!-- bench-charts: end -->"
I_BEGIN = "<!-- bench-instructions: table, from scripts/instructions.py's results (cargo make bench-instructions) -->"
I_END = "<!-- bench-instructions: end -->"


def median(values):
    s = sorted(values)
    return s[len(s) // 2] if s else 0.0


def thousands(x):
    return f"{x:,.0f}"


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def rates_svg(results):
    groups = []
    for entry in results["rates"]:
        loops = entry["loops"]
        for mode in entry["modes"]:
            groups.append((f"{mode['mode']}, {loops} loop{'s' if loops > 1 else ''}", mode))
    top = max(max(m[w]["rates"]) for _, m in groups for w in ("server", "floor"))
    step = 10_000 if top < 120_000 else 20_000
    y_max = (int(top // step) + 1) * step
    left, right, plot_top, plot_h, bottom = 70, 20, 40, 260, 70
    group_w, bar_w = 170, 50
    width = left + group_w * len(groups) + right
    height = plot_top + plot_h + bottom

    def y(v):
        return plot_top + plot_h * (1 - v / y_max)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tangle-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" font-size="13">'
    ]
    # Axis and grid.
    v = 0
    while v <= y_max:
        out.append(
            f'<line class="tangle-chart-grid" x1="{left}" x2="{width - right}" y1="{y(v):.1f}" '
            f'y2="{y(v):.1f}" stroke="#999" stroke-width="0.5"/>'
        )
        out.append(
            f'<text class="tangle-chart-text" x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'fill="#333">{thousands(v)}</text>'
        )
        v += step
    out.append(
        f'<text class="tangle-chart-text" x="14" y="{plot_top + plot_h / 2}" fill="#333" '
        f'transform="rotate(-90 14 {plot_top + plot_h / 2})" text-anchor="middle">requests/s</text>'
    )
    for g, (label, mode) in enumerate(groups):
        x0 = left + g * group_w + (group_w - 2 * bar_w - 10) / 2
        for k, who in enumerate(("server", "floor")):
            runs = mode[who]["rates"]
            m = median(runs)
            x = x0 + k * (bar_w + 10)
            out.append(
                f'<rect class="tangle-chart-{who}" x="{x:.1f}" y="{y(m):.1f}" width="{bar_w}" '
                f'height="{plot_top + plot_h - y(m):.1f}" fill="{"#4a7fb5" if who == "server" else "#b0b0b0"}">'
                f"<title>{who}, {esc(label)}: median {thousands(m)} requests/s; runs "
                f"{', '.join(thousands(r) for r in sorted(runs))}</title></rect>"
            )
            for i, r in enumerate(sorted(runs)):
                cx = x + bar_w / 2 + (i - (len(runs) - 1) / 2) * 7
                out.append(
                    f'<circle class="tangle-chart-run" cx="{cx:.1f}" cy="{y(r):.1f}" r="2.6" '
                    f'fill="#000" stroke="#fff" stroke-width="0.8"/>'
                )
            out.append(
                f'<text class="tangle-chart-text" x="{x + bar_w / 2:.1f}" y="{min(y(m), y(max(runs))) - 8:.1f}" '
                f'text-anchor="middle" font-size="11" fill="#333">{thousands(m)}</text>'
            )
        ratio = median(mode["server"]["rates"]) / median(mode["floor"]["rates"])
        cx = left + g * group_w + group_w / 2
        out.append(
            f'<text class="tangle-chart-text" x="{cx}" y="{plot_top + plot_h + 20}" text-anchor="middle" '
            f'fill="#333">{esc(label)}</text>'
        )
        out.append(
            f'<text class="tangle-chart-text" x="{cx}" y="{plot_top + plot_h + 38}" text-anchor="middle" '
            f'fill="#333">ratio {ratio:.2f}</text>'
        )
    # Legend.
    lx = left
    for who, colour, text in (
        ("server", "#4a7fb5", "server (median run)"),
        ("floor", "#b0b0b0", "floor (median run)"),
    ):
        out.append(f'<rect class="tangle-chart-{who}" x="{lx}" y="12" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text class="tangle-chart-text" x="{lx + 20}" y="24" fill="#333">{text}</text>')
        lx += 170
    out.append(
        f'<circle class="tangle-chart-run" cx="{lx + 7}" cy="19" r="2.6" fill="#000" stroke="#fff" stroke-width="0.8"/>'
    )
    out.append(
        f'<text class="tangle-chart-text" x="{lx + 20}" y="24" fill="#333">'
        f"each of the {results['rounds']} runs of {results['run_seconds']:g} s</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def table(results):
    one = next(e for e in results["rates"] if e["loops"] == 1)
    rows = [
        "| measure | server | floor | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for mode in one["modes"]:
        s, f = mode["server"], mode["floor"]
        ms, mf = median(s["rates"]), median(f["rates"])
        spread = lambda r: f"{thousands(min(r))}–{thousands(max(r))}"  # noqa: E731
        rows.append(
            f"| {mode['mode']} requests/s | {thousands(ms)} (runs {spread(s['rates'])}) "
            f"| {thousands(mf)} (runs {spread(f['rates'])}) | {ms / mf:.2f} | ≥ 0.9 |"
        )
        p = lambda ms_: f"{ms_:.2f} ms" if ms_ < 10 else f"{ms_:.1f} ms"  # noqa: E731
        rows.append(
            f"| {mode['mode']} p99 latency | {p(median(s['p99_ms']))} | {p(median(f['p99_ms']))} | | |"
        )
    for mode in one["modes"]:
        if "plain" not in mode:
            continue
        pl, s, f = mode["plain"], mode["server"], mode["floor"]
        mp, ms, mf = median(pl["rates"]), median(s["rates"]), median(f["rates"])
        rows.append(
            f"| {mode['mode']} requests/s, plain build | {thousands(mp)} "
            f"(runs {thousands(min(pl['rates']))}–{thousands(max(pl['rates']))}) "
            f"| {thousands(mf)} | {mp / mf:.2f} (fast ÷ plain {ms / mp:.2f}) | |"
        )
    idle = results["idle"]
    rows.append(
        f"| memory per idle connection | {idle['bytes_per_connection']:.0f} B "
        f"({thousands(idle['held'])} held) | | | ≤ 4 KiB |"
    )
    big = results["big_request"]
    rows.append(f"| 16 MiB binary request | {big['ms']:.1f} ms, {big['gb_per_s']:.1f} GB/s | | | ≥ 1 GB/s |")
    text = "\n".join(rows)
    if results.get("load_average") is not None:
        text += (
            f"\n\nThe machine's load average when the run ended: {results['load_average']:.1f}, "
            f"on {results['cores']} cores (anything above the number of cores is other work "
            "competing with the bench)."
        )
    return text


def instructions_svg(results):
    servers = results["servers"]
    top = max(s["per_request"] for s in servers)
    step = 2_000 if top < 24_000 else 5_000
    x_max = (int(top // step) + 1) * step
    left, right, top_pad, bar_h, gap, bottom = 110, 30, 20, 30, 16, 40
    plot_w = 520
    width = left + plot_w + right
    height = top_pad + len(servers) * (bar_h + gap) + bottom

    def x(v):
        return left + plot_w * v / x_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tangle-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" font-size="13">'
    ]
    axis_y = top_pad + len(servers) * (bar_h + gap)
    v = 0
    while v <= x_max:
        out.append(
            f'<line class="tangle-chart-grid" x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top_pad - 6}" '
            f'y2="{axis_y}" stroke="#999" stroke-width="0.5"/>'
        )
        out.append(
            f'<text class="tangle-chart-text" x="{x(v):.1f}" y="{axis_y + 16}" text-anchor="middle" '
            f'fill="#333">{thousands(v)}</text>'
        )
        v += step
    out.append(
        f'<text class="tangle-chart-text" x="{left + plot_w / 2}" y="{axis_y + 34}" text-anchor="middle" '
        f'fill="#333">instructions per keep-alive request (callgrind)</text>'
    )
    for i, s in enumerate(servers):
        y = top_pad + i * (bar_h + gap)
        who = "floor" if s["name"] == "floor" else "server"
        colour = "#b0b0b0" if who == "floor" else ("#4a7fb5" if s["name"] == "server" else "#8fb3d9")
        out.append(
            f'<text class="tangle-chart-text" x="{left - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#333">{esc(s["name"])}</text>'
        )
        out.append(
            f'<rect class="tangle-chart-{who}" x="{left}" y="{y}" width="{x(s["per_request"]) - left:.1f}" '
            f'height="{bar_h}" fill="{colour}"><title>{esc(s["name"])}: '
            f'{thousands(s["per_request"])} instructions per request</title></rect>'
        )
        out.append(
            f'<text class="tangle-chart-text" x="{x(s["per_request"]) + 6:.1f}" y="{y + bar_h / 2 + 4:.1f}" '
            f'fill="#333">{thousands(s["per_request"])}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def instructions_table(results):
    rows = ["| per keep-alive request, this run | instructions |", "|---|---|"]
    for s in results["servers"]:
        rows.append(f"| {s['name']} | {thousands(s['per_request'])} |")
    return "\n".join(rows) + (
        f"\n\nCounted by `scripts/instructions.py`: {results['clients']} clients, "
        f"{thousands(results['few'])} and then {thousands(results['many'])} requests, the "
        f"difference divided by {thousands(results['many'] - results['few'])}."
    )


def main():
    root = Path(__file__).resolve().parent.parent
    source = Path(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LOAD_RESULTS", root / "target/tmp/load-results.json")
    )
    if not source.is_file():
        sys.exit(f"bench-charts: no results at {source}: run `cargo make bench` (or the load bench) first")
    results = json.loads(source.read_text(encoding="utf-8"))
    # Beside the chapters: the tests that copy docs/ expect files only, no folders.
    chart = root / "docs/load-rates.svg"
    chart.write_text(rates_svg(results), encoding="utf-8")
    chapter = root / "docs/performance.md"
    text = chapter.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?\n" + re.escape(END), re.S)
    if not pattern.search(text):
        sys.exit(f"bench-charts: {chapter} has no `{BEGIN}` ... `{END}` markers")
    text = pattern.sub(lambda _: f"{BEGIN}\n{table(results)}\n{END}", text)
    counted = Path(os.environ.get("INSTRUCTIONS_RESULTS", root / "target/tmp/instructions.json"))
    if counted.is_file():
        ins = json.loads(counted.read_text(encoding="utf-8"))
        (root / "docs/instructions.svg").write_text(instructions_svg(ins), encoding="utf-8")
        ipattern = re.compile(re.escape(I_BEGIN) + r"\n.*?" + re.escape(I_END), re.S)
        if not ipattern.search(text):
            sys.exit(f"bench-charts: {chapter} has no `{I_BEGIN}` ... `{I_END}` markers")
        text = ipattern.sub(lambda _: f"{I_BEGIN}\n{instructions_table(ins)}\n{I_END}", text)
        print(f"bench-charts: docs/instructions.svg and its table from {counted}")
    chapter.write_text(text, encoding="utf-8")
    print(f"bench-charts: {chart} and the table of {chapter} from {source}")


if __name__ == "__main__":
    main()
