"""A disk that fills mid-fetch and mid-install: small tmpfs mounts for the cache and for the
target. ENOSPC is named once, nothing partial stays, and after freeing space the same command
succeeds."""

from __future__ import annotations

import subprocess
from pathlib import Path

from common import Ctx, Row, Skip, last_lines, rmtree, staging_dirs, tree_diff

ENOSPC = "No space left on device"
EXPECTED = ("clear error naming ENOSPC (\"No space left on device\") once; verify clean, no "
            "partial entry; {what}; after freeing space the same command succeeds == reference")


def mount(ctx: Ctx, name: str, size: str) -> Path:
    if not ctx.is_root:
        raise Skip("not root: cannot mount a tmpfs")
    point = ctx.fresh(name)
    point.mkdir(parents=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                           str(point)], capture_output=True, text=True)
    if proc.returncode != 0:
        point.rmdir()
        raise Skip(f"mounting a tmpfs is not allowed here ({proc.stderr.strip()})")
    return point


def resize(point: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(point)], check=True)


def umount(point: Path) -> None:
    subprocess.run(["umount", "-l", str(point)], capture_output=True)
    rmtree(point)


def check_error(proc, what: str) -> list[str]:
    problems = []
    if proc.returncode == 0:
        problems.append(f"{what} succeeded on a full disk")
    else:
        count = proc.stderr.count(ENOSPC)
        if count != 1:
            problems.append(f"{what}: ENOSPC named {count} times: {last_lines(proc.stderr, 2)}")
    return problems


def cache_holds(ctx: Ctx, cache: Path, project: str) -> bool:
    listed = ctx.run(ctx.cmd(cache, "cache", "list"))
    return any(line.split()[:1] == [project] for line in listed.stdout.splitlines()[1:])


def kib(path: Path) -> int:
    """The space a tree takes, in KiB, as `du` counts it."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def fetch_case(ctx: Ctx, server, fractions: list[float], http: bool) -> None:
    wheel = ctx.wheel("black-")
    source = server.url("good", wheel.name, ctx.pins[wheel.name][1]) if http else str(wheel)
    ref_cache = ctx.fresh("ref")
    ctx.must(ctx.cmd(ref_cache, "fetch", str(ctx.wheel("tomli-"))))
    base = kib(ref_cache)
    out = ctx.must(ctx.cmd(ref_cache, "fetch", str(wheel)))
    ref = ctx.tree(Path(out.stdout.strip().splitlines()[-1]))
    # Sizes between what the cache holds before the fetch and what it needs after it.
    sizes = [f"{base + int(f * (kib(ref_cache) - base))}k" for f in fractions]
    rmtree(ref_cache)
    name = f"disk full mid-fetch ({'HTTP' if http else 'local file'})"
    expected = EXPECTED.format(what="the wheel not listed in the cache")
    try:
        failures, seen = [], []
        for size in sizes:
            point = mount(ctx, "full-cache", size)
            try:
                cache = point / "cache"
                # Something cached first, so the cache exists when the disk fills.
                ctx.must(ctx.cmd(cache, "fetch", str(ctx.wheel("tomli-"))))
                proc = ctx.run(ctx.cmd(cache, "fetch", source))
                ctx.figures.faults["disk full mid-fetch"] = ctx.figures.faults.get("disk full mid-fetch", 0) + 1
                problems = check_error(proc, f"size {size}")
                seen.append(f"{size}: exit {proc.returncode}, ENOSPC named "
                            f"{proc.stderr.count(ENOSPC)}x")
                bad = ctx.verify_clean(cache)
                if bad:
                    problems.append(bad)
                if cache_holds(ctx, cache, "black"):
                    problems.append("black listed in the cache after the failure")
                resize(point, "256m")
                proc = ctx.run(ctx.cmd(cache, "fetch", source))
                if proc.returncode != 0:
                    problems.append(f"after freeing space: {last_lines(proc.stderr)}")
                else:
                    found = ctx.tree(Path(proc.stdout.strip().splitlines()[-1]))
                    if found != ref:
                        problems.append(f"archive differs: {tree_diff(found, ref)}")
                failures += [f"{size}: {p}" for p in problems]
            finally:
                umount(point)
        observed = "; ".join(seen) + "; verify clean, nothing partial, re-run == reference"
        if failures:
            observed = f"{len(failures)} problems: " + " || ".join(failures[:3])
        ctx.add(Row(name, len(sizes), expected, observed, "FAIL" if failures else "PASS"))
    except Skip as skip:
        ctx.add(Row(name, 0, expected, f"skipped: {skip}", "SKIP"))


def install_case(ctx: Ctx, fractions: list[float]) -> None:
    name = "disk full mid-install (target)"
    expected = EXPECTED.format(what="target as before, no .cairn-install-*")
    cache = ctx.fresh("cache")
    py = ["--python", ctx.python, "--link-mode", "copy"]
    ref = ctx.fresh("ref")
    ctx.must(ctx.cmd(cache, "install", *py, "--target", str(ref), str(ctx.wheel("tomli-"))))
    before = ctx.tree(ref)
    base = kib(ref)
    new = [str(ctx.wheel("black-")), str(ctx.wheel("pyjwt-"))]
    ctx.must(ctx.cmd(cache, "install", *py, "--target", str(ref), *new))
    after = ctx.tree(ref)
    # Sizes between what the target holds before the install and what it needs after it.
    sizes = [f"{base + int(f * (kib(ref) - base))}k" for f in fractions]
    rmtree(ref)
    try:
        failures, seen = [], []
        for size in sizes:
            point = mount(ctx, "full-target", size)
            try:
                target = point / "site"
                ctx.must(ctx.cmd(cache, "install", *py, "--target", str(target),
                                 str(ctx.wheel("tomli-"))))
                proc = ctx.run(ctx.cmd(cache, "install", *py, "--target", str(target), *new))
                ctx.figures.faults["disk full mid-install"] = ctx.figures.faults.get("disk full mid-install", 0) + 1
                problems = check_error(proc, f"size {size}")
                seen.append(f"{size}: exit {proc.returncode}, ENOSPC named "
                            f"{proc.stderr.count(ENOSPC)}x")
                found = ctx.tree(target)
                if staging_dirs(target):
                    problems.append(f"staging left: {staging_dirs(target)}")
                if ctx.tree(target, skip_staging=True) != before:
                    ctx.figures.partial_targets += 1
                    problems.append(f"target changed: {tree_diff(found, before)}")
                bad = ctx.verify_clean(cache)
                if bad:
                    problems.append(bad)
                resize(point, "256m")
                proc = ctx.run(ctx.cmd(cache, "install", *py, "--target", str(target), *new))
                if proc.returncode != 0:
                    problems.append(f"after freeing space: {last_lines(proc.stderr)}")
                elif ctx.tree(target) != after:
                    problems.append(f"target differs: {tree_diff(ctx.tree(target), after)}")
                failures += [f"{size}: {p}" for p in problems]
            finally:
                umount(point)
        observed = "; ".join(seen) + "; target as before, re-run == reference"
        if failures:
            observed = f"{len(failures)} problems: " + " || ".join(failures[:3])
        ctx.add(Row(name, len(sizes), expected, observed, "FAIL" if failures else "PASS"))
    except Skip as skip:
        ctx.add(Row(name, 0, expected, f"skipped: {skip}", "SKIP"))
    finally:
        rmtree(cache)


def run(ctx: Ctx, server) -> None:
    # Free space as fractions of what the fetch or install needs.
    if ctx.long:
        fractions = [0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.85]
    else:
        fractions = [0.15, 0.7]
    fetch_case(ctx, server, fractions, http=False)
    fetch_case(ctx, server, fractions, http=True)
    install_case(ctx, fractions)
