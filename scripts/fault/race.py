"""16 processes install overlapping sets into their own targets while `cache prune` and
`cache clean` loop beside them on the same cache."""

from __future__ import annotations

import itertools
import re
import threading
import time

from common import Ctx, Row, last_lines, rmtree, staging_dirs, tree_diff

POOL = ["tomli-", "black-", "pyjwt-", "wheel-", "backports.tarfile-", "nvidia_nvtx_cu12-12.1"]
WORKERS = 16
# The only acceptable failure: a wait for the cache's lock that ran out (docs/cache-maintenance.md:
# installs and maintenance exclude each other and wait, 300 s by default).
LOCK_TIMEOUT = re.compile(r"timed out after \d+ s waiting")

EXPECTED = ("every install succeeds with a complete target (== its reference), or fails only on "
            "a lock wait that timed out, target untouched; prune/clean succeed or time out the "
            "same way; verify clean at the end; no panic")


def run(ctx: Ctx, seconds: float) -> None:
    sets = list(itertools.combinations(POOL, 3))[:WORKERS]
    ref_cache = ctx.fresh("race-ref-cache")
    refs = {}
    for wanted in sets:
        target = ctx.fresh("race-ref")
        ctx.must(install(ctx, ref_cache, target, wanted))
        refs[wanted] = ctx.tree(target)
        rmtree(target)
    rmtree(ref_cache)

    cache = ctx.fresh("race-cache")
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    stats = {"installs": 0, "ok": 0, "timed_out": 0, "prune": 0, "clean": 0, "maint_timed_out": 0}
    failures: list[str] = []

    def worker(index: int) -> None:
        wanted = sets[index]
        rounds = 0
        while rounds == 0 or time.monotonic() < stop:
            target = ctx.fresh(f"race-{index}")
            proc = ctx.run(install(ctx, cache, target, wanted))
            rounds += 1
            with lock:
                stats["installs"] += 1
            found = ctx.tree(target)
            problem = None
            if proc.returncode == 0:
                if found != refs[wanted]:
                    problem = f"incomplete target: {tree_diff(found, refs[wanted])}"
                elif staging_dirs(target):
                    problem = "staging left after success"
                else:
                    with lock:
                        stats["ok"] += 1
            elif LOCK_TIMEOUT.search(proc.stderr) and not found:
                with lock:
                    stats["timed_out"] += 1
            else:
                problem = f"failed: {last_lines(proc.stderr)}"
            if problem:
                with lock:
                    failures.append(f"worker {index}: {problem}")
            rmtree(target)

    def maintainer(kind: str) -> None:
        args = ["cache", "prune"] if kind == "prune" else ["cache", "clean"]
        while time.monotonic() < stop:
            proc = ctx.run(ctx.cmd(cache, *args, "--lock-timeout", "120"))
            with lock:
                stats[kind] += 1
                if proc.returncode != 0:
                    if LOCK_TIMEOUT.search(proc.stderr):
                        stats["maint_timed_out"] += 1
                    else:
                        failures.append(f"{kind}: {last_lines(proc.stderr)}")
            time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    threads += [threading.Thread(target=maintainer, args=(kind,)) for kind in ("prune", "clean")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bad = ctx.verify_clean(cache)
    if bad:
        failures.append(f"end: {bad}")
    rmtree(cache)
    ctx.figures.processes += stats["installs"]
    observed = (f"{stats['installs']} installs by {WORKERS} processes: {stats['ok']} complete, "
                f"{stats['timed_out']} lock timeouts; {stats['prune']} prunes, {stats['clean']} "
                f"cleans ({stats['maint_timed_out']} timed out)")
    if failures:
        observed += f"; {len(failures)} problems: " + " || ".join(failures[:3])
    else:
        observed += "; verify clean"
    ctx.add(Row(f"race: {WORKERS} installers + prune + clean", stats["installs"], EXPECTED,
                observed, "FAIL" if failures else "PASS"))


def install(ctx: Ctx, cache, target, wanted):
    return ctx.cmd(cache, "install", "--python", ctx.python, "--target", str(target),
                   *[str(ctx.wheel(w)) for w in wanted])
