"""SIGKILL at random moments over fetch, install, upgrade, prune, clean and repair; after each
kill the cache verifies clean, the next command succeeds and the result is byte for byte the
reference made without faults."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from common import CaseError, Ctx, Row, last_lines, rmtree, staging_dirs, tree_diff

PROBE = "no-such-project-fault-suite"


def copy_tree(source: Path, dest: Path) -> None:
    # cp -a keeps hard links, modes and times, as a cache is left on disk.
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


class Op:
    """One operation under SIGKILL. Subclasses fill prepare/setup/argv/check."""

    name = ""
    expected = ""
    baseline = 0.1

    def __init__(self, ctx: Ctx, server):
        self.ctx = ctx
        self.server = server

    def prepare(self) -> None:
        raise NotImplementedError

    def update_window(self, seconds: float) -> None:
        """Stores a new estimate of the length of the kind of run the last setup chose."""
        self.windows[self.kind_of_run] = seconds
        self.baseline = seconds

    def setup(self, i: int) -> dict:
        raise NotImplementedError

    def argv(self, state: dict) -> list[str]:
        raise NotImplementedError

    def check(self, state: dict) -> list[str]:
        raise NotImplementedError

    def teardown(self, state: dict) -> None:
        for key in ("cache", "target"):
            path = state.get(key)
            if path is not None and state.get(f"own_{key}", True):
                rmtree(path)


class FetchOp(Op):
    expected = "verify clean after the kill; re-run succeeds; archive == reference"

    def __init__(self, ctx, server, http: bool):
        super().__init__(ctx, server)
        self.http = http
        self.name = "kill: fetch over HTTP" if http else "kill: fetch a local file"

    def sources(self, i: int) -> list[str]:
        wheel = self.ctx.wheel("black-")
        if self.ctx.long and i % 3 == 2:
            wheel = self.ctx.wheel("numpy-")
        if self.http:
            return [self.server.url("good", wheel.name, self.ctx.pins[wheel.name][1])]
        return [str(wheel)]

    def prepare(self) -> None:
        self.refs = {}
        self.windows = {}
        for i in range(3):
            src = self.sources(i)[0]
            if src in self.refs:
                continue
            cache = self.ctx.fresh("ref-fetch-cache")
            out = self.ctx.must(self.ctx.cmd(cache, "fetch", src))
            self.refs[src] = self.ctx.tree(Path(out.stdout.strip().splitlines()[-1]))
            rmtree(cache)
            # The kill window: the quickest of a few unfaulted runs, each into a new cache.
            took = []
            for _ in range(3):
                cache = self.ctx.fresh("timed-fetch-cache")
                took.append(self.ctx.timed(self.ctx.cmd(cache, "fetch", src)))
                rmtree(cache)
            self.windows[src] = min(took)

    def setup(self, i):
        source = self.sources(i)[0]
        self.kind_of_run = source
        self.baseline = self.windows[source]
        return {"cache": self.ctx.fresh("fetch-cache"), "source": source}

    def argv(self, state):
        return self.ctx.cmd(state["cache"], "fetch", state["source"])

    def check(self, state):
        problems = []
        cache = state["cache"]
        bad = self.ctx.verify_clean(cache)
        if bad:
            problems.append(f"after kill: {bad}")
        proc = self.ctx.run(self.argv(state))
        if proc.returncode != 0:
            return problems + [f"re-run failed: {last_lines(proc.stderr)}"]
        found = self.ctx.tree(Path(proc.stdout.strip().splitlines()[-1]))
        if found != self.refs[state["source"]]:
            self.ctx.figures.partial_targets += 1
            problems.append(f"archive differs: {tree_diff(found, self.refs[state['source']])}")
        bad = self.ctx.verify_clean(cache)
        if bad:
            problems.append(f"after re-run: {bad}")
        return problems


class InstallOp(Op):
    """Install `new` into a target that holds `old` (nothing for a fresh target)."""

    expected = ("next command recovers (no .cairn-install-*); target == before or == after, "
                "byte for byte; re-run succeeds == after; verify clean")

    def __init__(self, ctx, server, name, old, new, warm_every=2, link_mode=None):
        super().__init__(ctx, server)
        self.name = name
        self.old = old
        self.new = new
        self.warm_every = warm_every  # every n-th iteration starts with a cold cache
        self.link = ["--link-mode", link_mode] if link_mode else []
        self.counts = {"before": 0, "after": 0, "staged": 0}

    def install(self, cache, target, wheels):
        return self.ctx.cmd(cache, "install", "--python", self.ctx.python, *self.link,
                            "--target", str(target), *[str(self.ctx.wheel(w)) for w in wheels])

    def prepare(self):
        ctx = self.ctx
        self.warm = ctx.fresh("warm-cache")
        ref = ctx.fresh("ref-target")
        if self.old:
            ctx.must(self.install(self.warm, ref, self.old))
        self.before = ctx.tree(ref)
        ctx.must(self.install(self.warm, ref, self.new))
        self.after = ctx.tree(ref)
        if self.before == self.after:
            raise CaseError("before and after trees are equal")
        # The kill window: an install from a warm cache, and one from a cold cache.
        warm_runs = []
        for _ in range(3):
            timed = ctx.fresh("timed-target")
            if self.old:
                ctx.must(self.install(self.warm, timed, self.old))
            warm_runs.append(ctx.timed(self.install(self.warm, timed, self.new)))
            rmtree(timed)
        warm = min(warm_runs)
        cold_cache = ctx.fresh("timed-cache")
        cold_target = ctx.fresh("timed-target")
        if self.old:
            ctx.must(self.install(cold_cache, cold_target, self.old))
        cold = ctx.timed(self.install(cold_cache, cold_target, self.new))
        self.windows = {"warm": warm, "cold": cold}
        for path in (cold_cache, cold_target, ref):
            rmtree(path)

    def setup(self, i):
        warm = self.warm_every == 0 or i % self.warm_every != 0
        cache = self.warm if warm else self.ctx.fresh("cold-cache")
        target = self.ctx.fresh("target")
        if self.old:
            self.ctx.must(self.install(cache, target, self.old))
        self.kind_of_run = "warm" if warm else "cold"
        self.baseline = self.windows[self.kind_of_run]
        return {"cache": cache, "target": target, "own_cache": not warm}

    def argv(self, state):
        return self.install(state["cache"], state["target"], self.new)

    def check(self, state):
        ctx = self.ctx
        problems = []
        target, cache = state["target"], state["cache"]
        if staging_dirs(target):
            self.counts["staged"] += 1
        bad = ctx.verify_clean(cache)
        if bad:
            problems.append(f"after kill: {bad}")
        if target.exists():
            # The next command that touches the target recovers it and changes nothing else.
            proc = ctx.run(ctx.cmd(cache, "uninstall", "--python", ctx.python, "--target",
                                   str(target), PROBE))
            if proc.returncode == 0 or "not installed" not in proc.stderr:
                problems.append(f"recovery probe: exit {proc.returncode}: {last_lines(proc.stderr)}")
            left = staging_dirs(target)
            if left:
                problems.append(f"staging left after the next command: {left}")
        found = ctx.tree(target, skip_staging=True)
        if found == self.before:
            self.counts["before"] += 1
        elif found == self.after:
            self.counts["after"] += 1
        else:
            ctx.figures.partial_targets += 1
            problems.append(f"target neither before nor after: {tree_diff(found, self.before)}")
        proc = ctx.run(self.argv(state))
        if proc.returncode != 0:
            problems.append(f"re-run failed: {last_lines(proc.stderr)}")
        elif ctx.tree(target) != self.after:
            problems.append(f"re-run target differs: {tree_diff(ctx.tree(target), self.after)}")
        bad = ctx.verify_clean(cache)
        if bad:
            problems.append(f"after re-run: {bad}")
        return problems

    def summary(self) -> str:
        return (f"as before {self.counts['before']}, as after {self.counts['after']}, "
                f"staging seen right after the kill {self.counts['staged']}")


class MaintenanceOp(Op):
    """`cache prune`, `cache clean` or `cache verify --repair` on a copy of a filled cache."""

    def __init__(self, ctx, server, kind):
        super().__init__(ctx, server)
        self.kind = kind
        self.name = {"prune": "kill: cache prune", "clean": "kill: cache clean",
                     "repair": "kill: cache verify --repair"}[kind]
        after = "re-run succeeds" if kind != "repair" else "re-run repairs"
        self.expected = (("verify clean after the kill; " if kind != "repair" else "")
                         + f"{after}; verify clean; a fetch then == reference")

    def variants(self):
        if self.kind == "prune":
            return [["cache", "prune"], ["cache", "prune", "--max-size", "1"],
                    ["cache", "prune", "--ci"], ["cache", "prune", "--max-age", "0s"]]
        if self.kind == "clean":
            return [["cache", "clean"], ["cache", "clean", "black", "tomli"]]
        return [["cache", "verify", "--repair"]]

    def prepare(self):
        ctx = self.ctx
        self.template = ctx.fresh("template-cache")
        black, tomli = ctx.wheel("black-"), ctx.wheel("tomli-")
        for wheel in (black, tomli, ctx.wheel("nvidia_nvtx_cu12-12.1")):
            ctx.must(ctx.cmd(self.template, "fetch", str(wheel)))
        jwt = ctx.wheel("jwt-")
        ctx.must(ctx.cmd(self.template, "fetch", self.server.url("good", jwt.name)))
        # A pointer whose file is gone: something for a plain prune to remove.
        gone = ctx.fresh("gone")
        gone.mkdir()
        moved = gone / ctx.wheel("pyjwt-").name
        moved.write_bytes(ctx.wheel("pyjwt-").read_bytes())
        ctx.must(ctx.cmd(self.template, "fetch", str(moved)))
        rmtree(gone)
        ref_cache = ctx.fresh("ref-cache")
        out = ctx.must(ctx.cmd(ref_cache, "fetch", str(black)))
        self.ref = ctx.tree(Path(out.stdout.strip().splitlines()[-1]))
        rmtree(ref_cache)
        self.windows = {}
        for index, variant in enumerate(self.variants()):
            took = []
            for _ in range(2):
                state = self.setup(index)
                took.append(ctx.timed(ctx.cmd(state["cache"], *variant)))
                rmtree(state["cache"])
            self.windows[tuple(variant)] = min(took)

    def setup(self, i):
        cache = self.ctx.fresh("cache")
        copy_tree(self.template, cache)
        if self.kind == "repair":
            # Damage two archives: bytes appended to one file, another file deleted.
            files = sorted(p for p in (cache / "archive-v0").rglob("*.py") if p.is_file())
            if len(files) < 2:
                raise CaseError("the template cache has no files to damage")
            with open(files[0], "ab") as handle:
                handle.write(b"# damaged by the fault suite\n")
            files[-1].unlink()
        variant = self.variants()[i % len(self.variants())]
        self.kind_of_run = tuple(variant)
        self.baseline = self.windows.get(self.kind_of_run, self.baseline)
        return {"cache": cache, "variant": variant}

    def argv(self, state):
        return self.ctx.cmd(state["cache"], *state["variant"])

    def check(self, state):
        ctx = self.ctx
        problems = []
        cache = state["cache"]
        if self.kind != "repair":
            bad = ctx.verify_clean(cache)
            if bad:
                problems.append(f"after kill: {bad}")
        proc = ctx.run(self.argv(state))
        if proc.returncode != 0:
            problems.append(f"re-run failed: {last_lines(proc.stderr)}")
        bad = ctx.verify_clean(cache)
        if bad:
            problems.append(f"after re-run: {bad}")
        proc = ctx.run(ctx.cmd(cache, "fetch", str(ctx.wheel("black-"))))
        if proc.returncode != 0:
            problems.append(f"fetch afterwards failed: {last_lines(proc.stderr)}")
        else:
            found = ctx.tree(Path(proc.stdout.strip().splitlines()[-1]))
            if found != self.ref:
                problems.append(f"fetched archive differs: {tree_diff(found, self.ref)}")
        return problems


def ops(ctx: Ctx, server) -> list[Op]:
    return [
        FetchOp(ctx, server, http=False),
        FetchOp(ctx, server, http=True),
        InstallOp(ctx, server, "kill: install into a fresh target", [], ["tomli-", "black-"]),
        InstallOp(ctx, server, "kill: upgrade", ["tomli-", "nvidia_nvtx_cu12-12.1"],
                  ["nvidia_nvtx_cu12-12.9", "black-"], warm_every=3),
        InstallOp(ctx, server, "kill: multi-package install (numpy + scipy)", [],
                  ["numpy-", "scipy-"], warm_every=4 if ctx.long else 0),
        MaintenanceOp(ctx, server, "prune"),
        MaintenanceOp(ctx, server, "clean"),
        MaintenanceOp(ctx, server, "repair"),
    ]


SHORT_ITERATIONS = {
    "kill: fetch a local file": 8,
    "kill: fetch over HTTP": 8,
    "kill: install into a fresh target": 8,
    "kill: upgrade": 8,
    "kill: multi-package install (numpy + scipy)": 4,
    "kill: cache prune": 8,
    "kill: cache clean": 8,
    "kill: cache verify --repair": 6,
}


def run(ctx: Ctx, server, seconds_each: float | None, only) -> None:
    # FAULT_SEED replays a run's kill moments (as far as the machine's timing allows).
    seed = int(os.environ.get("FAULT_SEED") or time.time())
    print(f"  kill moments: FAULT_SEED={seed}", flush=True)
    rng = random.Random(seed)
    for op in ops(ctx, server):
        if only and not any(word in op.name for word in only):
            continue
        try:
            op.prepare()
        except CaseError as error:
            ctx.add(Row(op.name, 0, op.expected, f"setup failed: {error}", "FAIL"))
            continue
        sent = landed = 0
        failures: list[str] = []
        started = time.monotonic()
        i = 0
        while True:
            if seconds_each is None:
                if i >= SHORT_ITERATIONS[op.name]:
                    break
            elif time.monotonic() - started > seconds_each and i >= 3:
                break
            try:
                state = op.setup(i)
            except CaseError as error:
                failures.append(f"setup: {error}")
                break
            # Moments spread over the operation's unfaulted length, a few past its end. The
            # machine is shared, so lengths vary: each run that ends before its kill, or is
            # killed past the estimate, moves the estimate of its kind towards what it saw.
            window = op.baseline
            delay = rng.uniform(0, 1.1 * window)
            hit, ended = ctx.kill_at(op.argv(state), delay)
            if not hit or delay > window:
                op.update_window(0.6 * window + 0.4 * ended)
            if os.environ.get("FAULT_DEBUG"):
                print(f"    {op.name} #{i}: window {op.baseline * 1000:.0f} ms, kill at "
                      f"{delay * 1000:.0f} ms, landed {hit}", flush=True)
            sent += 1
            landed += hit
            for problem in op.check(state):
                failures.append(f"#{i} (kill at {delay * 1000:.0f} ms): {problem}")
            op.teardown(state)
            i += 1
        ctx.figures.kills[op.name.removeprefix("kill: ")] = [sent, landed]
        observed = f"{landed}/{sent} kills landed"
        if isinstance(op, InstallOp):
            observed += "; " + op.summary()
        if failures:
            observed += f"; {len(failures)} problems: " + " || ".join(failures[:3])
        else:
            observed += "; all checks held"
        ctx.add(Row(op.name, sent, op.expected, observed, "FAIL" if failures else "PASS"))
        for path in (getattr(op, "warm", None), getattr(op, "template", None)):
            if path is not None:
                rmtree(path)
