#!/usr/bin/env python3
"""Compare the trees pip, uv and cairn installed for each case and write a markdown report.

Usage: compare.py --cases CASES.tsv --meta META.tsv [--scratch DIR] [--out FILE]

CASES.tsv has a header row, then one row per case:
    case  wheels  tool  status  target  log
one row per tool (pip, uv, cairn) and case, in that order; `status` is the tool's exit code and
`wheels` the space-separated wheel file names installed in one command. META.tsv holds
key<TAB>value lines for the report's header (date, versions, commands).

What is compared, for every path under a target (directories only when empty):
  - presence: a path in some trees only;
  - kind: file, symlink or directory, and a symlink's target;
  - content: sha256 of the bytes, after the interpreter on a `#!` line naming python is
    replaced by `python` (the raw shebang lines are compared on their own);
  - executable bit (the whole mode is shown);
  - in `*.dist-info/`: RECORD as a set of rows (order ignored), INSTALLER's content,
    direct_url.json's JSON, REQUESTED's presence.
`__pycache__` directories and `*.pyc` files are left out (and counted, in case a tool compiled).
"""

import argparse
import base64
import csv
import datetime
import difflib
import hashlib
import io
import json
import os
import re
import stat
import sys

TOOLS = ("pip", "uv", "cairn")
# How many rows of one kind a case shows before "… and N more".
SHOWN = 15
# Files up to this size get a unified diff when their contents differ.
DIFF_BYTES = 4096
KIND_TITLES = {
    "failed": "Install failed",
    "presence": "Paths in some trees only",
    "type": "File type or symlink target",
    "content": "File content (sha256, shebang interpreter normalised)",
    "shebang": "Shebang lines",
    "mode": "Executable bit",
    "record": "RECORD rows (compared as sets, by path)",
    "record_tree": "RECORD against the tree it describes",
    "installer": "INSTALLER",
    "direct_url": "direct_url.json",
    "requested": "REQUESTED",
    "pyc": "Bytecode (`__pycache__`, left out of the comparison)",
}
SHEBANG = re.compile(rb"^#!(.*python[^\s]*)(.*)$")


def shebang_of(data):
    """The first line of DATA when it is a `#!` line, else None."""
    if not data.startswith(b"#!"):
        return None
    return data.split(b"\n", 1)[0].rstrip(b"\r")


def normalised(data):
    """DATA with the interpreter of a `#!...python...` first line replaced by `python`."""
    line = shebang_of(data)
    if line is None:
        return data
    match = SHEBANG.match(line)
    if not match:
        return data
    return b"#!python" + match.group(2) + data[len(line):]


def scan(root):
    """path -> entry for every file, symlink and empty directory under ROOT; and the .pyc count."""
    entries = {}
    pyc = 0
    for directory, dirnames, filenames in os.walk(root):
        relative_dir = os.path.relpath(directory, root)
        if "__pycache__" in dirnames:
            for _d, _n, files in os.walk(os.path.join(directory, "__pycache__")):
                pyc += sum(1 for f in files if f.endswith(".pyc"))
            dirnames.remove("__pycache__")
        names = []
        for name in dirnames:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                names.append(name)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(directory, d))]
        names.extend(filenames)
        if not dirnames and not filenames and relative_dir != ".":
            entries[relative_dir] = {"type": "dir"}
        for name in names:
            path = os.path.join(directory, name)
            relative = os.path.normpath(os.path.join(relative_dir, name))
            if name.endswith(".pyc"):
                pyc += 1
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = {"type": "symlink", "target": os.readlink(path)}
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            entries[relative] = {
                "type": "file",
                "mode": stat.S_IMODE(info.st_mode),
                "sha256": hashlib.sha256(normalised(data)).hexdigest(),
                "record_hash": "sha256="
                + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(),
                "size": len(data),
                "shebang": shebang_of(data),
                "data": data if is_dist_info_meta(relative) or len(data) <= DIFF_BYTES else None,
            }
    return entries, pyc


def is_dist_info_meta(relative):
    parts = relative.split(os.sep)
    return (
        len(parts) == 2
        and parts[0].endswith(".dist-info")
        and parts[1] in ("RECORD", "INSTALLER", "direct_url.json", "REQUESTED")
    )


def record_rows(data):
    rows = set()
    for row in csv.reader(io.StringIO(data.decode("utf-8", "replace"))):
        if row:
            rows.add(tuple(row))
    return rows


def code(text):
    text = str(text)
    if "`" in text:
        return "``" + text.replace("\n", "\\n") + "``"
    return "`" + text.replace("\n", "\\n") + "`"


def who(tools):
    return ", ".join(tools) if tools else "none"


class Case:
    def __init__(self, name, wheels):
        self.name = name
        self.wheels = wheels
        self.runs = {}  # tool -> (status, target, log)
        self.diffs = {}  # kind -> [markdown lines]
        self.trees = {}  # tool -> path -> entry

    def add(self, kind, line):
        self.diffs.setdefault(kind, []).append(line)


def tail(path, lines=6):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return ""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return "\n".join(text.strip().splitlines()[-lines:])


def compare(case, scratch):
    trees = case.trees
    for tool in TOOLS:
        status, target, log = case.runs[tool]
        if status != 0:
            case.add("failed", f"{tool} exited with {status}:\n\n```\n{tail(log)}\n```")
            continue
        entries, pyc = scan(target)
        trees[tool] = entries
        check_records(case, tool, entries)
        if pyc:
            case.add("pyc", f"{tool}: {pyc} `.pyc` files")
    ok = [t for t in TOOLS if t in trees]
    if len(ok) < 2:
        return
    paths = sorted(set().union(*(trees[t].keys() for t in ok)))
    for path in paths:
        have = [t for t in ok if path in trees[t]]
        if len(have) != len(ok):
            missing = [t for t in ok if t not in have]
            entry = trees[have[0]][path]
            extra = " (empty directory)" if entry["type"] == "dir" else ""
            case.add("presence", f"{code(path)}{extra}: in {who(have)}; not in {who(missing)}")
        entries = {t: trees[t][path] for t in have}
        if len(entries) < 2:
            if is_dist_info_meta(path):
                meta_only(case, path, entries)
            continue
        types = {t: e["type"] for t, e in entries.items()}
        if len(set(types.values())) > 1:
            case.add("type", f"{code(path)}: " + "; ".join(f"{t} {k}" for t, k in types.items()))
            continue
        kind = next(iter(types.values()))
        if kind == "symlink":
            targets = {t: e["target"] for t, e in entries.items()}
            if len(set(targets.values())) > 1:
                case.add("type", f"{code(path)} → " + "; ".join(f"{t} {code(v)}" for t, v in targets.items()))
            continue
        if kind != "file":
            continue
        modes = {t: e["mode"] for t, e in entries.items()}
        if len({bool(m & 0o111) for m in modes.values()}) > 1:
            case.add("mode", f"{code(path)}: " + "; ".join(f"{t} {m:o}" for t, m in modes.items()))
        shebangs = {t: e["shebang"] for t, e in entries.items()}
        if len(set(shebangs.values())) > 1:
            case.add(
                "shebang",
                f"{code(path)}: "
                + "; ".join(
                    f"{t} {code(s.decode('utf-8', 'replace')) if s else 'none'}"
                    for t, s in shebangs.items()
                ),
            )
        if is_dist_info_meta(path):
            meta(case, path, entries, scratch)
            continue
        if len({e["sha256"] for e in entries.values()}) > 1:
            groups = {}
            for t, e in entries.items():
                groups.setdefault(e["sha256"], []).append(t)
            line = f"{code(path)}: " + " vs ".join(f"{who(ts)} ({h[:12]})" for h, ts in groups.items())
            line += content_diff(path, entries, groups)
            case.add("content", line)


def trees_of(case):
    return case.trees


def check_records(case, tool, entries):
    """Each RECORD in ENTRIES against the tree: rows naming nothing, wrong hashes or sizes, and
    files that no RECORD lists."""
    listed = set()
    for path, entry in sorted(entries.items()):
        if not (path.endswith(".dist-info" + os.sep + "RECORD") and path.count(os.sep) == 1):
            continue
        for row in sorted(record_rows(entry["data"])):
            target = os.path.normpath(row[0])
            listed.add(target)
            file = entries.get(target)
            if file is None:
                where = " (outside the target)" if target.startswith("..") else ""
                case.add("record_tree", f"{tool}: {code(path)} lists {code(row[0])}, not in the tree{where}")
                continue
            if target == path:
                continue
            digest = row[1] if len(row) > 1 else ""
            size = row[2] if len(row) > 2 else ""
            if digest and file.get("record_hash") != digest or size and str(file.get("size")) != size:
                case.add("record_tree", f"{tool}: {code(path)} row {code(','.join(row))} does not match the file")
    for path, entry in sorted(entries.items()):
        if entry["type"] != "dir" and path not in listed:
            case.add("record_tree", f"{tool}: {code(path)} is in no RECORD")


def content_diff(path, entries, groups):
    """A unified diff between the first tree and each differing one, for small text files."""
    tools = list(entries)
    first = tools[0]
    out = []
    seen = {entries[first]["sha256"]}
    for tool in tools[1:]:
        if entries[tool]["sha256"] in seen:
            continue
        seen.add(entries[tool]["sha256"])
        a, b = entries[first]["data"], entries[tool]["data"]
        if a is None or b is None:
            continue
        try:
            a_lines = normalised(a).decode("utf-8").splitlines()
            b_lines = normalised(b).decode("utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        diff = list(difflib.unified_diff(a_lines, b_lines, first, tool, n=0, lineterm=""))
        out.append("\n".join(diff))
    if not out:
        return ""
    body = "\n".join(out)
    return "\n\n  ```diff\n" + "\n".join("  " + l for l in body.splitlines()) + "\n  ```"


def meta_only(case, path, entries):
    """A dist-info metadata file that only some trees have (presence is reported already)."""
    name = os.path.basename(path)
    (tool, entry), = entries.items()
    if name == "INSTALLER":
        case.add("installer", f"{code(path)}: {tool} {code(entry['data'].decode().strip())}")
    elif name == "direct_url.json":
        case.add("direct_url", f"{code(path)}: only {tool} writes it")
    elif name == "REQUESTED":
        case.add("requested", f"{code(path)}: only {tool} writes it")


def meta(case, path, entries, scratch):
    name = os.path.basename(path)
    if name == "RECORD":
        rows = {t: {row[0]: tuple(row[1:]) for row in record_rows(e["data"])} for t, e in entries.items()}
        union = sorted(set().union(*(r.keys() for r in rows.values())))
        for listed in union:
            have = [t for t in rows if listed in rows[t]]
            if len(have) != len(rows):
                missing = [t for t in rows if t not in have]
                case.add("record", f"{code(path)} lists {code(listed)}: {who(have)}; not {who(missing)}")
                continue
            values = {t: rows[t][listed] for t in have}
            if len(set(values.values())) > 1:
                # Explained when the files themselves differ (or are absent from some trees).
                files = {t: trees_of(case)[t].get(os.path.normpath(listed), {}).get("record_hash") for t in have}
                why = " (the installed files differ too)" if len(set(files.values())) > 1 else " (same installed file!)"
                case.add(
                    "record",
                    f"{code(path)} row for {code(listed)}: "
                    + "; ".join(f"{t} {code(','.join(v))}" for t, v in values.items())
                    + why,
                )
        return
    if name == "INSTALLER":
        values = {t: e["data"].decode("utf-8", "replace").strip() for t, e in entries.items()}
        if len(set(values.values())) > 1:
            case.add("installer", f"{code(path)}: " + "; ".join(f"{t} {code(v)}" for t, v in values.items()))
        return
    if name == "direct_url.json":
        values = {}
        for t, e in entries.items():
            text = e["data"].decode("utf-8", "replace")
            if scratch:
                text = text.replace(scratch, "$SCRATCH")
            try:
                text = json.dumps(json.loads(text), sort_keys=True)
            except ValueError:
                pass
            values[t] = text
        if len(set(values.values())) > 1:
            case.add("direct_url", f"{code(path)}: " + "; ".join(f"{t} {code(v)}" for t, v in values.items()))
        return
    if name == "REQUESTED":
        return


def load_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


def report(cases, meta):
    out = []
    out.append("# pip, uv and cairn side by side")
    out.append("")
    out.append(
        f"Run {meta.get('started', '?')} to {meta.get('finished', '?')} by `{meta.get('command', '')}`, "
        f"on {meta.get('python', '?')}."
    )
    out.append("")
    for key, label in (
        ("pip_version", "pip"),
        ("uv_version", "uv"),
        ("cairn_version", "cairn"),
        ("cairn_commit", "cairn commit"),
    ):
        out.append(f"- {label}: {meta.get(key, '?')}")
    out.append("")
    out.append("Each case installs the wheels named, in one command, into three fresh targets:")
    out.append("")
    for tool in TOOLS:
        out.append(f"- {tool}: `{meta.get('command_' + tool, '')}`")
    out.append("")
    out.append(
        "pip compiles `.pyc` files by default, even with `--target`; uv and cairn do not, so pip "
        "runs with `--no-compile`. `__pycache__` is left out of the comparison either way. "
        "Shebang lines are compared on their own; file contents are compared with the interpreter "
        "of a `#!…python…` line replaced by `python`. Paths are relative to each target."
    )
    out.append("")
    out.append("| case | wheels | exit status pip / uv / cairn | result |")
    out.append("|---|---|---|---|")
    for case in cases:
        if case.diffs:
            result = ", ".join(f"{KIND_TITLES[k].split(' (')[0].lower()} ({len(v)})" for k, v in sorted_kinds(case))
        else:
            result = "identical"
        statuses = " / ".join(str(case.runs[t][0]) for t in TOOLS)
        out.append(f"| {case.name} | {len(case.wheels)} | {statuses} | {result} |")
    out.append("")
    for case in cases:
        out.append(f"## {case.name}")
        out.append("")
        out.append("Wheels: " + ", ".join(code(w) for w in case.wheels))
        out.append("")
        if not case.diffs:
            out.append("The three trees are identical.")
            out.append("")
            continue
        for kind, lines in sorted_kinds(case):
            out.append(f"### {KIND_TITLES[kind]}")
            out.append("")
            for line in lines[:SHOWN]:
                out.append(f"- {line}")
            if len(lines) > SHOWN:
                out.append(f"- … and {len(lines) - SHOWN} more")
            out.append("")
    return "\n".join(out)


def sorted_kinds(case):
    order = list(KIND_TITLES)
    return sorted(case.diffs.items(), key=lambda item: order.index(item[0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--scratch", default="")
    parser.add_argument("--out", default="-")
    args = parser.parse_args()

    cases = []
    by_name = {}
    with open(args.cases, encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        for row in reader:
            case = by_name.get(row["case"])
            if case is None:
                case = Case(row["case"], row["wheels"].split())
                by_name[row["case"]] = case
                cases.append(case)
            case.runs[row["tool"]] = (int(row["status"]), row["target"], row["log"])
    meta = load_meta(args.meta)
    meta.setdefault("finished", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for case in cases:
        compare(case, args.scratch)
    text = report(cases, meta) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    different = sum(1 for c in cases if c.diffs)
    print(f"compare: {len(cases)} cases, {len(cases) - different} identical, {different} with differences", file=sys.stderr)


if __name__ == "__main__":
    main()
