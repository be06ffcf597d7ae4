"""Shared helpers of the fault suite: running cairn, comparing trees, the result table."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

STAGING_PREFIX = ".cairn-install-"


@dataclass
class Row:
    """One line of the result table."""

    case: str
    iterations: int
    expected: str
    observed: str
    result: str  # PASS, FAIL or SKIP


@dataclass
class Figures:
    """What the long run reports for docs/reliability.md."""

    kills: dict = field(default_factory=dict)  # operation -> [sent, landed]
    processes: int = 0
    faults: dict = field(default_factory=dict)  # fault kind -> rounds
    torn_entries: int = 0  # corrupt archives `cache verify` reported after a fault
    damage: dict = field(default_factory=dict)  # verify's counts by kind, summed
    partial_targets: int = 0  # targets neither before nor after once recovered
    panics: int = 0
    commands: int = 0


class Ctx:
    """Everything a case needs: the binary, the work dir, the wheels, the mode."""

    def __init__(self, cairn: Path, work: Path, python: str, long: bool, minutes: float):
        self.cairn = cairn
        self.work = work
        self.python = python
        self.long = long
        self.minutes = minutes
        self.rows: list[Row] = []
        self.figures = Figures()
        self.wheels: dict[str, Path] = {}
        self.pins: dict[str, tuple[str, str]] = {}  # file name -> (url, sha256)
        self.panic_lines: list[str] = []
        self._counter = 0
        self.is_root = os.geteuid() == 0

    # Paths -----------------------------------------------------------------------------

    def fresh(self, name: str) -> Path:
        """A new, not yet existing path under the work dir."""
        self._counter += 1
        path = self.work / f"{name}-{self._counter}"
        if path.exists():
            rmtree(path)
        return path

    def wheel(self, prefix: str) -> Path:
        """The downloaded pinned wheel whose file name starts with `prefix`."""
        matches = [path for name, path in self.wheels.items() if name.startswith(prefix)]
        if len(matches) != 1:
            raise SystemExit(f"fault suite: no single pinned wheel starting with {prefix!r}")
        return matches[0]

    # Running cairn ---------------------------------------------------------------------

    def cmd(self, cache: Path | None, *args: str) -> list[str]:
        """The command line of `cairn` with a cache dir."""
        argv = [str(self.cairn)]
        if cache is not None:
            argv += ["--cache-dir", str(cache)]
        return argv + [str(arg) for arg in args]

    def env(self, extra: dict | None = None) -> dict:
        env = dict(os.environ)
        env.pop("CAIRN_CACHE_DIR", None)
        env.pop("VIRTUAL_ENV", None)
        env["RUST_BACKTRACE"] = "1"
        if extra:
            env.update(extra)
        return env

    def run(self, argv: list[str], env: dict | None = None, user: str | None = None,
            umask: int | None = None, timeout: float = 600, cwd: Path | None = None
            ) -> subprocess.CompletedProcess:
        """Runs a command to its end, recording any panic it prints."""
        argv = as_user(argv, user)
        preexec = (lambda: os.umask(umask)) if umask is not None else None
        proc = subprocess.run(argv, env=self.env(env), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout, preexec_fn=preexec, cwd=cwd or self.work)
        self.figures.commands += 1
        self.note_panic(proc.stderr, argv)
        return proc

    def note_panic(self, stderr: str, argv: list[str]) -> None:
        if "panicked" in stderr:
            self.figures.panics += 1
            self.panic_lines.append(" ".join(argv) + "\n" + stderr[-2000:])

    def kill_at(self, argv: list[str], delay: float, env: dict | None = None
                ) -> tuple[bool, float]:
        """Starts a command, SIGKILLs its process group after `delay` seconds. Returns whether
        the kill landed (the process was still running), and when the process ended by itself
        (seconds after its start) or the delay."""
        proc = subprocess.Popen(argv, env=self.env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        started = time.monotonic()
        deadline = started + delay
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                break
            time.sleep(min(left, 0.002))
        landed = proc.poll() is None
        ended = time.monotonic() - started
        if landed:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                landed = False
        _, err = proc.communicate()
        text = err.decode(errors="replace")
        self.figures.commands += 1
        self.note_panic(text, argv)
        return landed, ended

    def timed(self, argv: list[str], env: dict | None = None) -> float:
        """Runs a command that must succeed; returns how long it took."""
        started = time.monotonic()
        proc = self.run(argv, env=env)
        took = time.monotonic() - started
        if proc.returncode != 0:
            raise CaseError(f"unfaulted `{' '.join(argv[1:])}` failed: {last_lines(proc.stderr)}")
        return took

    def must(self, argv: list[str], env: dict | None = None, user: str | None = None
             ) -> subprocess.CompletedProcess:
        proc = self.run(argv, env=env, user=user)
        if proc.returncode != 0:
            raise CaseError(f"`{' '.join(argv[1:])}` failed: {last_lines(proc.stderr)}")
        return proc

    def verify_clean(self, cache: Path, user: str | None = None) -> str | None:
        """None when `cairn cache verify` reports no damage, else what it said."""
        if not cache.exists():
            return None
        proc = self.run(self.cmd(cache, "cache", "verify"), user=user)
        found = VERIFY_COUNTS.search(proc.stdout + proc.stderr)
        if found:
            for kind, count in zip(("corrupt", "missing", "orphaned", "unverifiable"),
                                   found.groups()):
                self.figures.damage[kind] = self.figures.damage.get(kind, 0) + int(count)
            self.figures.torn_entries += int(found.group(1))
        if proc.returncode == 0:
            return None
        return f"verify exit {proc.returncode}: {last_lines(proc.stdout + proc.stderr)}"

    # Trees -------------------------------------------------------------------------------

    @staticmethod
    def digest(path: Path) -> str:
        # No cache keyed on inode numbers: cairn gives every unpacked file the same fixed
        # mtime, and inodes are reused at once, so such a key would confuse files.
        return sha256_file(path)

    def tree(self, root: Path, skip_staging: bool = False) -> dict:
        """Every entry under `root` by relative path: kind, executable bit and SHA-256 of
        files, link targets. A missing root is an empty tree."""
        out: dict = {}
        if not root.exists():
            return out
        for dirpath, dirnames, filenames in os.walk(root):
            if skip_staging:
                dirnames[:] = [d for d in dirnames if not d.startswith(STAGING_PREFIX)]
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                rel = str(path.relative_to(root))
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    out[rel] = ("l", os.readlink(path))
                elif stat.S_ISDIR(st.st_mode):
                    out[rel] = ("d",)
                else:
                    out[rel] = ("f", bool(st.st_mode & 0o100), self.digest(path))
        return out

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.result:4}  {row.case}: {row.observed}", flush=True)


class CaseError(Exception):
    """A case could not run its unfaulted steps: it fails with this message."""


class Skip(Exception):
    """A case cannot run here (no mount, not root): it is skipped with this message."""


def tree_diff(found: dict, want: dict, limit: int = 4) -> str:
    keys = sorted(set(found) | set(want))
    differs = [key for key in keys if found.get(key) != want.get(key)]
    return f"{len(differs)} paths differ, e.g. {differs[:limit]}"


def staging_dirs(target: Path) -> list[str]:
    if not target.is_dir():
        return []
    return [name for name in os.listdir(target) if name.startswith(STAGING_PREFIX)]


def last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])[:400]


def rmtree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        # Tests chmod things read-only: give write back before deleting.
        for dirpath, dirnames, _ in os.walk(path):
            for name in dirnames:
                try:
                    os.chmod(Path(dirpath) / name, 0o755)
                except OSError:
                    pass
        try:
            os.chmod(path, 0o755)
        except OSError:
            pass
        shutil.rmtree(path, ignore_errors=True)


def as_user(argv: list[str], user: str | None) -> list[str]:
    if user is None:
        return argv
    group = "nogroup" if user == "nobody" else user
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups" if user != "nobody"
            else "--clear-groups", "--"] + argv


VERIFY_COUNTS = re.compile(r"(\d+) corrupt, (\d+) missing, (\d+) orphaned, (\d+) unverifiable")

PIN = re.compile(r'filename:\s*"([^"]+)",\s*url:\s*"([^"]+)",\s*sha256:\s*"([0-9a-f]{64})"')


def load_pins(repo: Path) -> dict[str, tuple[str, str]]:
    """The pinned PyPI wheels of cairn-test-support (file name -> URL, SHA-256)."""
    source = (repo / "crates/cairn-test-support/src/pypi.rs").read_text()
    return {name: (url, sha) for name, url, sha in PIN.findall(source)}


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def fetch_wheels(ctx: Ctx, repo: Path, names: list[str]) -> None:
    """Downloads the pinned wheels whose names start with `names` into work/wheels, reusing
    the test-support download dir when it holds the same bytes."""
    ctx.pins = load_pins(repo)
    wheels = ctx.work / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    reuse = Path(os.environ.get("CAIRN_TEST_WHEELS", "/tmp/cairn-test-wheels"))
    for filename, (url, sha) in ctx.pins.items():
        if not any(filename.startswith(prefix) for prefix in names):
            continue
        dest = wheels / filename
        kept = reuse / filename
        if kept.is_file() and sha256_file(kept) == sha:
            shutil.copyfile(kept, dest)
        else:
            print(f"  downloading {url}", flush=True)
            partial = wheels / f".{filename}.part"
            for attempt in range(3):
                try:
                    with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                        shutil.copyfileobj(response, out)
                    break
                except OSError as error:
                    if attempt == 2:
                        raise SystemExit(f"fault suite: cannot download {url}: {error}")
                    time.sleep(2)
            if sha256_file(partial) != sha:
                raise SystemExit(f"fault suite: {url} does not match its pinned SHA-256 {sha}")
            partial.rename(dest)
        os.chmod(dest, 0o644)
        ctx.wheels[filename] = dest
    print(f"  {len(ctx.wheels)} pinned wheels in {wheels}", flush=True)


def print_table(rows: list[Row]) -> None:
    headers = ("case", "iterations", "expected", "observed", "result")
    cells = [(r.case, str(r.iterations), r.expected, r.observed, r.result) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    widths[0] = min(widths[0], 48)
    widths[2] = min(widths[2], 60)
    widths[3] = min(widths[3], 110)

    def cut(value, width):
        return value if len(value) <= width else value[: width - 1] + "…"

    def line(values):
        return " | ".join(cut(v, w).ljust(w) if i < 4 else v
                          for i, (v, w) in enumerate(zip(values, widths)))

    print(line(headers))
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    sys.stdout.flush()
