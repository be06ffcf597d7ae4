#!/usr/bin/env python3
"""Turn the raw timings of scripts/bench-vs-uv.sh into a table, a Markdown report and an SVG chart.

Input: a results TSV (case, label, tool, run, seconds, rss_kb, copies, load1; one row per timed
run) and a meta TSV (key, value). Output: the table of medians on stdout, the report at --out and
the chart beside it (same name, extension .svg). Standard library only.
"""

import argparse
import csv
import html
import os
import statistics
import sys
from dataclasses import dataclass, field


@dataclass
class Case:
    """The timed runs of one case, per tool."""

    case_id: str
    label: str
    seconds: dict = field(default_factory=dict)  # tool -> {run: seconds}
    rss_kb: dict = field(default_factory=dict)  # tool -> [kB]
    copies: dict = field(default_factory=dict)  # tool -> [count]

    def median(self, tool):
        return statistics.median(self.seconds[tool].values())

    def median_rss_mib(self, tool):
        return statistics.median(self.rss_kb[tool]) / 1024


def read_meta(path):
    with open(path, newline="", encoding="utf-8") as file:
        return {row[0]: row[1] for row in csv.reader(file, delimiter="\t") if len(row) >= 2}


def read_results(path):
    cases = {}
    loads = []
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            case = cases.setdefault(row["case"], Case(row["case"], row["label"]))
            tool = row["tool"]
            case.seconds.setdefault(tool, {})[int(row["run"])] = float(row["seconds"])
            case.rss_kb.setdefault(tool, []).append(int(row["rss_kb"]))
            if row["copies"]:
                case.copies.setdefault(tool, []).append(int(row["copies"]))
            loads.append(float(row["load1"]))
    if not cases:
        sys.exit("report.py: no timed runs in %s" % path)
    return list(cases.values()), loads


@dataclass
class Row:
    """One line of the table."""

    case: Case
    medians: dict
    faster_uv: str
    ratio: float  # cairn median / faster uv median
    paired: list  # cairn run i / faster uv run i, for every run i both have


def summarise(cases, tools):
    cairn, uvs = tools[0], tools[1:]
    rows = []
    for case in cases:
        medians = {tool: case.median(tool) for tool in tools}
        faster_uv = min(uvs, key=lambda tool: medians[tool])
        runs = sorted(set(case.seconds[cairn]) & set(case.seconds[faster_uv]))
        paired = [case.seconds[cairn][run] / case.seconds[faster_uv][run] for run in runs]
        rows.append(Row(case, medians, faster_uv, medians[cairn] / medians[faster_uv], paired))
    return rows


def seconds_text(value):
    if value < 0.1:
        return "%.3f" % value
    if value < 10:
        return "%.2f" % value
    return "%.1f" % value


def tool_title(tool, meta):
    if tool == "cairn":
        return "cairn"
    return tool.replace("uv-", "uv ")


def markdown_table(rows, tools, meta):
    titles = [tool_title(tool, meta) for tool in tools]
    head = (
        ["case"]
        + ["%s (s)" % title for title in titles]
        + ["cairn / uv", "paired", "peak RSS MiB (%s)" % " / ".join(titles)]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        cells = [row.case.label]
        for tool in tools:
            text = seconds_text(row.medians[tool])
            if tool == row.faster_uv:
                text = "**%s**" % text  # the uv the ratio is taken against
            cells.append(text)
        cells.append("%.2f" % row.ratio)
        cells.append(
            "%.2f (%.2f–%.2f)" % (statistics.median(row.paired), min(row.paired), max(row.paired))
        )
        cells.append(" / ".join("%.0f" % row.case.median_rss_mib(tool) for tool in tools))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def copies_table(rows, tools, meta):
    raced = [row for row in rows if row.case.copies]
    if not raced:
        return ""
    titles = [tool_title(tool, meta) for tool in tools]
    lines = [
        "| case | " + " | ".join("%s copies" % title for title in titles) + " |",
        "|---|" + "|".join(["---:"] * len(tools)) + "|",
    ]
    for row in raced:
        cells = [row.case.label]
        for tool in tools:
            counts = row.case.copies.get(tool, [])
            cells.append(", ".join(str(count) for count in counts))
        lines.append("| " + " | ".join(cells) + " |")
    # The race against the tool's own single cold install of the same wheel, median by median.
    wheel = meta.get("race_wheel")
    cold = next((row.case for row in rows if row.case.case_id == "cold-%s" % wheel), None)
    if cold is not None:
        for row in raced:
            cells = ["%s ÷ one cold %s" % (row.case.label, wheel)]
            for tool in tools:
                if tool in row.case.seconds and tool in cold.seconds:
                    cells.append("%.2f×" % (row.case.median(tool) / cold.median(tool)))
                else:
                    cells.append("")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(rows, tools, meta):
    titles = [tool_title(tool, meta) for tool in tools]
    head = ["case"] + titles + ["cairn/uv", "paired"] + ["RSS %s" % title for title in titles]
    body = []
    for row in rows:
        body.append(
            [row.case.label]
            + [seconds_text(row.medians[tool]) for tool in tools]
            + ["%.2f" % row.ratio, "%.2f" % statistics.median(row.paired)]
            + ["%.0f" % row.case.median_rss_mib(tool) for tool in tools]
        )
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    out = []
    for line in [head] + body:
        cells = [line[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(line) if i]
        out.append("  ".join(cells))
    return "\n".join(out)


COLOURS = {0: "#d9731a", 1: "#1f4e8c", 2: "#8fb3de"}


def svg_chart(rows, tools, meta):
    """Grouped horizontal bars: each tool's median as a multiple of the faster uv's median."""
    label_width, chart_width, bar, gap, group_gap, top = 300, 460, 13, 2, 14, 58
    values = [row.medians[tool] / row.medians[row.faster_uv] for row in rows for tool in tools]
    limit = max(2.0, max(values) * 1.05)
    scale = chart_width / limit
    group = len(tools) * (bar + gap) + group_gap
    height = top + len(rows) * group + 40
    width = label_width + chart_width + 90
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'font-family="sans-serif" font-size="12">' % (width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="20" font-size="15" font-weight="bold">'
        "Median wall time relative to the faster uv (lower is better)</text>",
    ]
    x = 10
    for index, tool in enumerate(tools):
        title = html.escape(tool_title(tool, meta))
        parts.append(
            '<rect x="%d" y="32" width="12" height="12" fill="%s"/>' % (x, COLOURS[index % 3])
        )
        parts.append('<text x="%d" y="42">%s</text>' % (x + 16, title))
        x += 30 + 8 * len(title)
    for row_index, row in enumerate(rows):
        y = top + row_index * group
        parts.append(
            '<text x="%d" y="%d" text-anchor="end">%s</text>'
            % (label_width - 8, y + (len(tools) * (bar + gap)) // 2 + 4, html.escape(row.case.label))
        )
        for index, tool in enumerate(tools):
            value = row.medians[tool] / row.medians[row.faster_uv]
            bar_y = y + index * (bar + gap)
            length = max(1.0, value * scale)
            parts.append(
                '<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                % (label_width, bar_y, length, bar, COLOURS[index % 3])
            )
            parts.append(
                '<text x="%.1f" y="%d" font-size="10">%s s</text>'
                % (label_width + length + 4, bar_y + bar - 3, seconds_text(row.medians[tool]))
            )
    axis_y = top + len(rows) * group
    one = label_width + scale
    parts.append(
        '<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#444" stroke-dasharray="4 3"/>'
        % (one, top - 6, one, axis_y)
    )
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (label_width, axis_y, label_width + chart_width, axis_y))
    step = 0.5 if limit <= 4 else 1.0 if limit <= 10 else 5.0
    tick = 0.0
    while tick <= limit:
        tick_x = label_width + tick * scale
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#444"/>' % (tick_x, axis_y, tick_x, axis_y + 4))
        parts.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%g×</text>' % (tick_x, axis_y + 16, tick))
        tick += step
    parts.append(
        '<text x="%d" y="%d" font-size="10" fill="#444">%s; %s runs per bar, median</text>'
        % (label_width, axis_y + 32, html.escape(meta.get("started", "")), html.escape(meta.get("runs", "")))
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def markdown_report(rows, tools, meta, loads, svg_name):
    quick = meta.get("quick") == "1"
    runs = meta.get("runs", "?")
    faster = sum(1 for row in rows if row.ratio < 1)
    always = sum(1 for row in rows if max(row.paired) < 1)
    never = sum(1 for row in rows if min(row.paired) >= 1)
    lines = [
        "# Benchmarks: cairn against uv",
        "",
        "Generated by `scripts/bench-vs-uv.sh`; rerun it to refresh this page (it overwrites it).",
    ]
    if quick:
        lines += [
            "",
            "**This is a `--quick` run**: torch is left out and each case has %s timed runs per tool." % runs,
        ]
    lines += [
        "",
        "## Results",
        "",
        "Median wall time in seconds of %s timed runs per tool and case (after %s untimed warm-up "
        "round%s per case, none for the race). **Bold** marks the faster uv release on the row; "
        "*cairn / uv* divides cairn's median by that one's, *paired* is the median of the ratios "
        "of runs timed back to back (the fairer figure on this machine, see below), with their "
        "range in brackets. Below 1, cairn is faster. Peak RSS is the median of `/usr/bin/time`'s maximum resident set size "
        "(for the race, the largest of the racing processes)."
        % (runs, meta.get("warmup", "?"), "" if meta.get("warmup") == "1" else "s"),
        "",
        markdown_table(rows, tools, meta),
        "",
        "By medians, cairn is faster than the faster uv on %d of %d rows; on %d rows cairn won "
        "every back-to-back pair, on %d it lost every one, and on the rest the pairs disagree "
        "(within this machine's noise)." % (faster, len(rows), always, never),
        "",
        "Peak RSS counts the pages of files a process maps into memory as well as the memory it "
        "allocates. cairn hashes a wheel through 32 MiB map windows and reads entry data with "
        "`pread` into reused buffers, so its peak does not grow with the wheel (a 240 MiB wheel "
        "stays under 100 MiB in `crates/cairn/tests/memory.rs`), and it hashes and unpacks at "
        "most one local wheel per core at a time, so neither does it grow with the number of "
        "wheels (twelve 40 MB wheels in one command: 72–78 MiB, 306–353 MiB before that bound); "
        "what remains grows with the number of files in one command (file lists, manifests, "
        "plans).",
        "",
        "![median wall time relative to the faster uv](%s)" % svg_name,
        "",
    ]
    copies = copies_table(rows, tools, meta)
    if copies:
        lines += [
            "Unpacked copies of the raced wheel left in each cache's archive bucket "
            "(`archive-v0`), one number per run, and the race's median wall time over the same "
            "tool's median cold install of that wheel alone (the target is at most 1.2×):",
            "",
            copies,
            "",
        ]
    load_summary = "n/a"
    if loads:
        load_summary = "min %.2f, median %.2f, max %.2f" % (min(loads), statistics.median(loads), max(loads))
    lines += [
        "## Setup",
        "",
        "| | |",
        "|---|---|",
        "| date | %s to %s |" % (meta.get("started", "?"), meta.get("finished", "?")),
        "| command | `%s` |" % meta.get("command", "?"),
        "| machine | %s CPUs (%s), %s memory, %s |"
        % (meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("memory", "?"), meta.get("kernel", "?")),
        "| bench directory | %s, same filesystem as the repository |" % meta.get("filesystem", "?"),
        "| load average (1 min) during timed runs | %s |" % load_summary,
        "| load average (1, 5, 15 min) at start / end | %s / %s |"
        % (meta.get("load_start", "?"), meta.get("load_end", "?")),
        "| cairn | %s, commit %s |" % (meta.get("cairn_version", "?"), meta.get("cairn_commit", "?")),
        "| uv | %s and %s, from PyPI into throwaway venvs |" % (meta.get("uv_new", "?"), meta.get("uv_old", "?")),
        "| python | %s |" % meta.get("python", "?"),
        "| wheels | %s |" % ", ".join("`%s`" % spec for spec in meta.get("wheels", "").split()),
        "",
        "The machine is shared: other engineers compile on it while the benchmark runs, so the "
        "load average above is part of the result. Absolute times move with it; ratios of runs "
        "timed back to back move much less.",
        "",
        "Commands, for one wheel (`$SCRATCH` is the temporary bench directory):",
        "",
        "```sh",
    ]
    for tool in tools:
        lines.append(meta.get("command_%s" % tool, ""))
    lines += [
        "```",
        "",
        "## Method",
        "",
        "- **cold**: empty cache, new target; the tool reads the wheel from the find-links "
        "directory, unpacks it into its cache and links it into the target (`--link-mode "
        "hardlink` for both tools, so that neither spends time trying to clone first).",
        "- **warm**: the tool's cache already holds every wheel (populated once, untimed); a new "
        "target each run, with `--link-mode hardlink` and with `--link-mode copy`.",
        "- **all wheels**: every wheel in one command, cold and warm (hardlink).",
        "- **race**: %s processes start at once, installing the largest wheel into one empty cache, "
        "each into its own target; the time is the wall time until the last one exits. Afterwards "
        "the script counts the directories under the cache's `archive-v0` that hold the wheel's "
        "`.dist-info`: a cache that unpacks each wheel once should hold one. The older uv leaves "
        "one copy per process (some 100,000 inodes for torch); deleting them makes the next run "
        "on this journal-less ext4 step over the freed inodes one by one for a minute "
        "(`recently_deleted`), seconds of system time. So its races run after the interleaved "
        "races of the other two." % meta.get("procs", "?"),
        "- Runs are interleaved: run 1 of every tool, then run 2 of every tool, with the order "
        "rotated each run so that no tool always goes first. This VM returns freed memory to its "
        "host, so write-heavy commands slow down and speed up between blocks of runs; only "
        "ratios of runs timed side by side are fair.",
        "- Before each timed run, an untimed preparation deletes what the case must not find "
        "(cache, target) and runs `sync`, so that one run's write-back is not charged to the "
        "next. Each run's own dirty pages are not waited for by either tool.",
        "- Wall time is `date +%s.%N` around the whole process (including `/usr/bin/time`, which "
        "records peak RSS in the same run). Each timed run is checked afterwards: the target "
        "must hold every wheel's `.dist-info`.",
        "- Both tools get the interpreter behind `python3` directly (not a pyenv shim), "
        "`--offline`, and a find-links directory; uv also `--no-index --no-deps --no-config`. "
        "Neither compiles bytecode.",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    meta = read_meta(args.meta)
    cases, loads = read_results(args.results)
    tools = meta["tools"].split()
    for case in cases:
        missing = [tool for tool in tools if tool not in case.seconds]
        if missing:
            sys.exit("report.py: case %s has no runs of %s" % (case.case_id, ", ".join(missing)))
    rows = summarise(cases, tools)

    print(text_table(rows, tools, meta))
    svg_path = os.path.splitext(args.out)[0] + ".svg"
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(svg_path, "w", encoding="utf-8") as file:
        file.write(svg_chart(rows, tools, meta))
    # The page is regenerated whole, but for its hand-kept last section.
    report = markdown_report(rows, tools, meta, loads, os.path.basename(svg_path))
    report += kept_section(args.out)
    with open(args.out, "w", encoding="utf-8") as file:
        file.write(report)
    print("\nwrote %s and %s" % (os.path.relpath(args.out, args.repo), os.path.relpath(svg_path, args.repo)))


KEPT_HEADING = "\n## Other measurements\n"


def kept_section(previous):
    """The hand-kept "Other measurements" section of the report being replaced, if any."""
    try:
        with open(previous, encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return ""
    at = text.find(KEPT_HEADING)
    return "" if at < 0 else text[at:]


if __name__ == "__main__":
    main()
