"""The fault suite's driver: runs every case against a real `cairn` binary and prints the
table; exits 1 when any case's observed outcome differs from its expected one.

Run through scripts/fault-suite.sh, which finds or builds the binary."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

# Nothing written into the source tree: no __pycache__ beside the helpers.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

import diskfull  # noqa: E402
import httpcases  # noqa: E402
import kills  # noqa: E402
import perms  # noqa: E402
import race  # noqa: E402
from common import Ctx, Row, fetch_wheels, print_table  # noqa: E402
from server import FaultServer  # noqa: E402

GROUPS = ("kill", "race", "disk", "http", "perm")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cairn", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--repo", required=True, type=Path)
    parser.add_argument("--long", action="store_true")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--python", default=None)
    parser.add_argument("--only", action="append", default=[],
                        help=f"run only these groups ({', '.join(GROUPS)}) or cases whose "
                             "name contains the word")
    args = parser.parse_args()

    python = args.python or ("/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK)
                             else shutil.which("python3"))
    if not python:
        print("fault suite: no python3 to install for", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    # Other users (nobody, the shared-cache users) read wheels and write targets under it.
    os.chmod(args.work, 0o755)
    ctx = Ctx(args.cairn.resolve(), args.work.resolve(), python, args.long, args.minutes)
    started = time.monotonic()
    mode = f"long ({args.minutes:g} min)" if args.long else "short"
    print(f"fault suite ({mode}): cairn {ctx.cairn}, python {python}, work {ctx.work}", flush=True)

    fetch_wheels(ctx, args.repo, ["tomli-", "black-", "numpy-", "scipy-", "jwt-", "pyjwt-",
                                  "wheel-", "backports.tarfile-", "nvidia_nvtx_cu12-"])
    wheels = ctx.work / "wheels"
    server = FaultServer(wheels, stall_seconds=2.5,
                         wrong_source=ctx.wheel("pyjwt-"))
    ctx.server = server

    groups = [g for g in args.only if g in GROUPS] or list(GROUPS)
    words = [w for w in args.only if w not in GROUPS]
    budget = args.minutes * 60
    plan = [
        ("kill", "SIGKILL loops",
         lambda: kills.run(ctx, server, budget * 0.7 / 8 if args.long else None, words)),
        ("race", "16 installers beside prune and clean",
         lambda: race.run(ctx, budget * 0.2 if args.long else 8)),
        ("disk", "disk full", lambda: diskfull.run(ctx, server)),
        ("http", "misbehaving HTTP server",
         lambda: httpcases.run(ctx, server, rounds=3 if args.long else 1)),
        ("perm", "permissions", lambda: perms.run(ctx)),
    ]
    try:
        for group, title, body in plan:
            if group not in groups or (words and group != "kill"):
                continue
            print(f"== {title}", flush=True)
            try:
                body()
            except Exception as error:  # A case that cannot run fails; the others still run.
                ctx.add(Row(f"{group}: could not run", 0, "runs", f"{type(error).__name__}: "
                            f"{error}", "FAIL"))
    finally:
        server.close()

    panics = ctx.figures.panics
    ctx.add(Row("no panic in any command", ctx.figures.commands, "\"panicked\" never in stderr",
                f"{panics} panics in {ctx.figures.commands} commands"
                + (": " + ctx.panic_lines[0][:300].replace("\n", " ") if panics else ""),
                "FAIL" if panics else "PASS"))
    print()
    print_table(ctx.rows)
    failed = [row for row in ctx.rows if row.result == "FAIL"]
    skipped = [row for row in ctx.rows if row.result == "SKIP"]
    minutes = (time.monotonic() - started) / 60
    print()
    if args.long:
        print_figures(ctx, minutes)
    print(f"fault suite: {len(ctx.rows) - len(failed) - len(skipped)} passed, {len(failed)} "
          f"failed, {len(skipped)} skipped in {minutes:.1f} min")
    return 1 if failed else 0


def print_figures(ctx: Ctx, minutes: float) -> None:
    figures = ctx.figures
    print("Figures for docs/reliability.md")
    print(f"- run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {minutes:.1f} min, "
          f"{figures.commands} cairn commands")
    sent = sum(s for s, _ in figures.kills.values())
    landed = sum(l for _, l in figures.kills.values())
    print(f"- SIGKILLs: {sent} sent, {landed} landed while the command ran")
    for op, (s, l) in figures.kills.items():
        print(f"  - {op}: {s} sent, {l} landed")
    print(f"- concurrent installs: {figures.processes} (16 processes beside prune and clean loops)")
    print("- faults per kind: " + ", ".join(f"{k} {v}" for k, v in figures.faults.items()))
    print(f"- torn entries (corrupt archives found by verify after a fault): {figures.torn_entries}")
    print("- everything verify reported after faults: "
          + ", ".join(f"{count} {kind}" for kind, count in figures.damage.items()))
    print(f"- partial targets after recovery: {figures.partial_targets}")
    print(f"- panics: {figures.panics}")
    print()


if __name__ == "__main__":
    sys.exit(main())
