"""A read-only target, a cache the running user cannot write (another owner; a read-only
mount), umask 000, and a cache shared by a group of users."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from common import Ctx, Row, Skip, last_lines, rmtree

GROUP = "cairnfault"
USERS = ("cairnfault-a", "cairnfault-b")


def need_root(ctx: Ctx) -> None:
    if not ctx.is_root:
        raise Skip("not root: cannot switch users")
    if shutil.which("setpriv") is None:
        raise Skip("setpriv is missing")


def give(path: Path, user: str) -> None:
    subprocess.run(["chown", "-R", f"{user}:", str(path)], check=True)


def install(ctx: Ctx, cache: Path, target: Path, *wheels: str) -> list[str]:
    return ctx.cmd(cache, "install", "--python", ctx.python, "--target", str(target),
                   *[str(ctx.wheel(w)) for w in wheels])


def case(ctx: Ctx, name: str, expected: str, body) -> None:
    try:
        problems, observed = body()
        if problems:
            observed = f"{len(problems)} problems: " + " || ".join(problems[:3])
        ctx.add(Row(name, 1, expected, observed, "FAIL" if problems else "PASS"))
    except Skip as skip:
        ctx.add(Row(name, 0, expected, f"skipped: {skip}", "SKIP"))


def readonly_target(ctx: Ctx) -> None:
    def body():
        need_root(ctx)
        problems, said = [], []
        for how in ("owned by root", "chmod a-w"):
            cache = ctx.fresh("ro-cache")
            cache.mkdir()
            give(cache, "nobody")
            target = ctx.fresh("ro-target")
            ctx.must(install(ctx, ctx.fresh("root-cache"), target, "tomli-"))
            if how == "chmod a-w":
                give(target, "nobody")
                for dirpath, dirnames, _ in os.walk(target):
                    os.chmod(dirpath, 0o555)
            before = ctx.tree(target)
            proc = ctx.run(install(ctx, cache, target, "black-", "pyjwt-"), user="nobody")
            if proc.returncode == 0:
                problems.append(f"{how}: install succeeded")
            elif not (re.search(r"(?i)permission denied|not writable|read-only", proc.stderr)
                      and str(target) in proc.stderr):
                problems.append(f"{how}: unclear error: {last_lines(proc.stderr, 2)}")
            if ctx.tree(target) != before:
                problems.append(f"{how}: target changed")
            said.append(f"{how}: {last_lines(proc.stderr, 1)}")
            rmtree(target)
            rmtree(cache)
        return problems, " ; ".join(said)

    case(ctx, "read-only target (user nobody)", "clear error naming the target and the "
         "permission; target unchanged", body)


def unwritable_cache_checks(ctx: Ctx, cache: Path, user: str | None, target_root: Path
                            ) -> tuple[list[str], str]:
    """Reads and a fully cached install succeed; an install that needs a new wheel fails
    naming the cache as not writable, without a word about maintenance."""
    problems = []
    for args in (["cache", "list"], ["cache", "verify"]):
        proc = ctx.run(ctx.cmd(cache, *args), user=user)
        if proc.returncode != 0:
            problems.append(f"`cache {args[1]}` failed: {last_lines(proc.stderr, 2)}")
    target = target_root / "cached"
    proc = ctx.run(install(ctx, cache, target, "tomli-", "black-"), user=user)
    if proc.returncode != 0:
        problems.append(f"cached install failed: {last_lines(proc.stderr, 2)}")
    target = target_root / "uncached"
    proc = ctx.run(install(ctx, cache, target, "pyjwt-"), user=user)
    said = last_lines(proc.stderr, 2)
    if proc.returncode == 0:
        problems.append("install needing a new wheel succeeded")
    else:
        if "not writable" not in proc.stderr or str(cache) not in proc.stderr:
            problems.append(f"message does not say the cache `{cache}` is not writable: {said}")
        if "maintenance" in proc.stderr.lower():
            problems.append(f"message mentions maintenance: {said}")
    return problems, f"uncached install said: {said}"


def cache_of_root_used_by_nobody(ctx: Ctx) -> None:
    def body():
        need_root(ctx)
        cache = ctx.fresh("root-cache")
        old = os.umask(0o022)
        try:
            ctx.must(install(ctx, cache, ctx.fresh("fill"), "tomli-", "black-"))
        finally:
            os.umask(old)
        targets = ctx.fresh("nobody-targets")
        targets.mkdir()
        give(targets, "nobody")
        return unwritable_cache_checks(ctx, cache, "nobody", targets)

    case(ctx, "cache owned by root, used by nobody (0755)", EXPECTED_A, body)


def readonly_mount_cache(ctx: Ctx) -> None:
    def body():
        need_root(ctx)
        point = ctx.fresh("ro-mount")
        point.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise Skip(f"mounting a tmpfs is not allowed here ({proc.stderr.strip()})")
        try:
            cache = point / "cache"
            ctx.must(install(ctx, cache, ctx.fresh("fill"), "tomli-", "black-"))
            proc = subprocess.run(["mount", "-o", "remount,ro", str(point)], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                raise Skip(f"remounting read-only is not allowed ({proc.stderr.strip()})")
            targets = ctx.fresh("ro-targets")
            targets.mkdir()
            return unwritable_cache_checks(ctx, cache, None, targets)
        finally:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)
            rmtree(point)

    case(ctx, "cache on a read-only mount (root)", EXPECTED_A, body)


EXPECTED_A = ("cache list, cache verify and an all-cached install succeed; an install needing a "
              "download fails saying the cache is not writable, naming it, never 'maintenance'")


def umask_000(ctx: Ctx) -> None:
    def body():
        cache = ctx.fresh("umask-cache")
        target = ctx.fresh("umask-target")
        problems = []
        for argv in (ctx.cmd(cache, "fetch", str(ctx.wheel("tomli-"))),
                     install(ctx, cache, target, "black-", "pyjwt-"),
                     ctx.cmd(cache, "fetch", ctx_server_url(ctx)),
                     ctx.cmd(cache, "cache", "prune"),
                     ctx.cmd(cache, "cache", "verify")):
            proc = ctx.run(argv, umask=0)
            if proc.returncode != 0:
                problems.append(f"`{' '.join(argv[3:5])}` failed: {last_lines(proc.stderr, 2)}")
        found = subprocess.run(["find", str(cache), "!", "-type", "l", "-perm", "-o+w"],
                               capture_output=True, text=True).stdout.split()
        if found:
            problems.append(f"{len(found)} world-writable: "
                            + ", ".join(str(Path(p).relative_to(cache)) for p in found[:4]))
        rmtree(cache)
        rmtree(target)
        return problems, "nothing world-writable in the cache"

    case(ctx, "umask 000", "`find CACHE ! -type l -perm -o+w` prints nothing", body)


def ctx_server_url(ctx: Ctx) -> str:
    wheel = ctx.wheel("wheel-")
    return ctx.server.url("good", wheel.name, ctx.pins[wheel.name][1])


def shared_cache(ctx: Ctx) -> None:
    created: list[tuple[str, str]] = []

    def body():
        need_root(ctx)
        if shutil.which("useradd") is None or shutil.which("groupadd") is None:
            raise Skip("useradd/groupadd missing")
        if subprocess.run(["getent", "group", GROUP], capture_output=True).returncode != 0:
            subprocess.run(["groupadd", GROUP], check=True)
            created.append(("group", GROUP))
        for user in USERS:
            if subprocess.run(["id", user], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "-M", "-U", "-G", GROUP, "-s", "/usr/sbin/nologin",
                                user], check=True)
                created.append(("user", user))
        root = ctx.fresh("shared-cache")
        subprocess.run(["install", "-d", "-m", "2775", "-g", GROUP, str(root)], check=True)
        targets = {}
        for user in USERS:
            targets[user] = ctx.fresh(f"target-{user}")
            targets[user].mkdir()
            give(targets[user], user)
        steps = [
            (USERS[0], install(ctx, root, targets[USERS[0]] / "one", "tomli-", "black-")),
            (USERS[1], install(ctx, root, targets[USERS[1]] / "one", "tomli-", "black-", "pyjwt-")),
            (USERS[1], ctx.cmd(root, "fetch", ctx_server_url(ctx))),
            (USERS[0], install(ctx, root, targets[USERS[0]] / "two", "pyjwt-", "wheel-")),
            (USERS[0], ctx.cmd(root, "cache", "prune")),
            (USERS[1], ctx.cmd(root, "cache", "verify")),
            (USERS[0], ctx.cmd(root, "cache", "verify")),
        ]
        # Maintenance by one member removes what the other created (checked after the modes).
        cleanup = [
            (USERS[1], ctx.cmd(root, "cache", "clean", "tomli", "black")),
            (USERS[0], ctx.cmd(root, "cache", "clean")),
            (USERS[1], ctx.cmd(root, "cache", "verify")),
        ]
        problems = []
        for user, argv in steps:
            proc = ctx.run(argv, user=user, umask=0o022)
            if proc.returncode != 0:
                problems.append(f"{user} `{' '.join(argv[3:5])}` failed: "
                                f"{last_lines(proc.stderr, 2)}")
        # Directories must be group-writable and setgid (02070 all set).
        found = subprocess.run(["find", str(root), "-type", "d", "!", "-perm", "-2070"],
                               capture_output=True, text=True).stdout.split()
        if found:
            problems.append(f"{len(found)} dirs not g+ws: "
                            + ", ".join(str(Path(p).relative_to(root)) for p in found[:4]))
        for user, argv in cleanup:
            proc = ctx.run(argv, user=user, umask=0o022)
            if proc.returncode != 0:
                problems.append(f"{user} `{' '.join(argv[3:])}` failed: "
                                f"{last_lines(proc.stderr, 2)}")
        rmtree(root)
        for target in targets.values():
            rmtree(target)
        return problems, "both users filled and used it; every directory g+ws"

    try:
        case(ctx, "shared cache (2775 root, two users of one group)", "both users' fetch, "
             "install, prune, verify and clean (of the other's entries) succeed; directories "
             "cairn creates are group-writable and setgid", body)
    finally:
        for kind, name in reversed(created):
            subprocess.run(["userdel" if kind == "user" else "groupdel", name],
                           capture_output=True)


def run(ctx: Ctx) -> None:
    readonly_target(ctx)
    cache_of_root_used_by_nobody(ctx)
    readonly_mount_cache(ctx)
    umask_000(ctx)
    shared_cache(ctx)
