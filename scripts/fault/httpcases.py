"""A misbehaving HTTP server on 127.0.0.1: each fault retried then served, or a clear error
naming the cause; never a wrong file in the cache."""

from __future__ import annotations

import re
import time
from pathlib import Path

from common import Ctx, Row, last_lines, rmtree, tree_diff

RETRIES = 3
TIMEOUT = 1
WINDOW = 10

# fault -> (pinned?, expect success?, requests expected (None: any), stderr pattern for an
# error, expected outcome in words)
CASES = {
    "good": (True, True, 1, None, "served at once"),
    "cut1": (True, True, 2, None, "body restarted once, then the wheel"),
    "cutall": (True, False, RETRIES + 1, r"(?i)(broke off|ended|closed|incomplete|end of file|eof)",
               f"{RETRIES + 1} requests, then an error saying the body broke off"),
    "long1": (True, True, 2, None, "restarted once, then the wheel"),
    "longall": (True, False, RETRIES + 1, r"(?i)(broke off|ended|closed|incomplete|end of file|eof)",
                f"{RETRIES + 1} requests, then an error saying the body broke off"),
    "short": (True, False, None, r"(?i)(sha-?256|hash|digest|ends at byte|truncated)",
              "error naming the hash that does not match or the archive's early end"),
    "stall1": (True, True, 2, None, "retried after the read timeout, then the wheel"),
    "stallbody1": (True, True, 2, None, "restarted after the read timeout, then the wheel"),
    "stallall": (True, False, None, r"(?i)(timed? ?out|timeout)",
                 f"an error naming the timeout, within the {WINDOW} s window"),
    "e500": (True, True, 2, None, "retried once, then the wheel"),
    "e429": (True, True, 2, None, "retried after Retry-After, then the wheel"),
    "e500all": (True, False, RETRIES + 1, r"500",
                f"{RETRIES + 1} requests, then an error naming status 500"),
    "wrong": (True, False, None, r"(?i)(sha-?256|hash|digest)",
              "error naming the hash that does not match"),
    "wrong-unpinned": (False, False, None, r"(?i)(name|dist-info|metadata|contradict|says)",
                       "error saying the wheel is not what its name says"),
    "html": (True, False, 1, r"(?i)html", "error saying the server sent an HTML page, no retry"),
}


def run(ctx: Ctx, server, rounds: int) -> None:
    from server import FAULTS

    wheel = ctx.wheel("tomli-")
    sha = ctx.pins[wheel.name][1]
    ref_cache = ctx.fresh("ref-http")
    out = ctx.must(ctx.cmd(ref_cache, "fetch", str(wheel)))
    ref = ctx.tree(Path(out.stdout.strip().splitlines()[-1]))
    rmtree(ref_cache)
    env = {"CAIRN_HTTP_RETRIES": str(RETRIES), "CAIRN_HTTP_TIMEOUT": str(TIMEOUT),
           "CAIRN_HTTP_RETRY_WINDOW": str(WINDOW)}
    for name, (pinned, succeeds, requests, pattern, words) in CASES.items():
        fault = name.removesuffix("-unpinned")
        failures = []
        for _ in range(rounds):
            server.reset()
            cache = ctx.fresh("http-cache")
            url = server.url(fault, wheel.name, sha if pinned else None)
            started = time.monotonic()
            proc = ctx.run(ctx.cmd(cache, "fetch", url), env=env, timeout=120)
            took = time.monotonic() - started
            count = server.count(fault, wheel.name)
            said = last_lines(proc.stderr, 2)
            ctx.figures.faults[name] = ctx.figures.faults.get(name, 0) + 1
            if succeeds:
                if proc.returncode != 0:
                    failures.append(f"failed: {said}")
                else:
                    found = ctx.tree(Path(proc.stdout.strip().splitlines()[-1]))
                    if found != ref:
                        failures.append(f"wrong archive: {tree_diff(found, ref)}")
            else:
                if proc.returncode == 0:
                    failures.append("succeeded")
                elif not re.search(pattern, proc.stderr):
                    failures.append(f"error does not name the cause: {said}")
                listed = ctx.run(ctx.cmd(cache, "cache", "list"))
                if "tomli" in listed.stdout:
                    failures.append("tomli is in the cache after a failed fetch")
            if requests is not None and count != requests:
                failures.append(f"{count} requests, expected {requests}")
            if fault == "stallall" and took > WINDOW + 2 * server.stall + 5:
                failures.append(f"took {took:.1f} s, window {WINDOW} s")
            bad = ctx.verify_clean(cache)
            if bad:
                failures.append(bad)
            rmtree(cache)
        observed = (f"exit {proc.returncode}, {count} requests, {took:.1f} s"
                    + (f", said: {said}" if proc.returncode else ""))
        if failures:
            observed = f"{len(failures)} problems: " + " || ".join(failures[:2]) + f" [{observed}]"
        ctx.add(Row(f"http: {FAULTS[fault]}" + (" (no pin)" if not pinned else ""), rounds,
                    words, observed, "FAIL" if failures else "PASS"))
