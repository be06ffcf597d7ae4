#!/usr/bin/env python3
"""A local mirror of PyPI for the pins of one hashed requirements file, for benchmarks that time
the index path without the internet's noise.

Usage:
    mirror.py record REQUIREMENTS DIR [--index URL] [--jobs N]
        Fetch from PyPI (untimed) the project page of every pin, in its PEP 691 JSON form and its
        HTML form, and the wheels of the pinned version that this interpreter can install (tags
        from `sys_tags()`, sha256 among the pin's hashes), with their `.metadata` files when the
        page offers them. File URLs in the pages are rewritten to point at the mirror. DIR is
        reusable: a complete recording of the same requirements file is left as it is, and an
        interrupted one resumes.
    mirror.py serve DIR [--port PORT] [--log FILE]
        Serve a recording on 127.0.0.1. Prints "ready PORT" once listening (PORT 0 or absent:
        any free port). Answers like PyPI:
          /simple/<project>/  the recorded page, JSON or HTML by the Accept header (or PEP 691's
                              `?format=`), with ETag (If-None-Match gives 304), `Cache-Control:
                              max-age=600, public`, `Vary: Accept, Accept-Encoding`, gzip when
                              asked; a name that is not normalised is redirected, as on PyPI;
          /simple/            the list of recorded projects;
          /files/<name>       a recorded wheel or `.metadata`, sent with sendfile(2) (single byte
                              ranges too); files the pages list but that were not recorded: 404.
        With --log, one line per request once answered: method, path, status, bytes sent, the
        user agent's first word, Unix times of the request's start and of the answer's end.

The pages keep every file PyPI lists (sdists, other versions and platforms), so that reading and
parsing them costs what it costs against PyPI (some are megabytes); only the files an install of
the pins can fetch are recorded, and the others answer 404 from the mirror.
"""

import argparse
import concurrent.futures
import datetime
import email.utils
import gzip
import hashlib
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# serve.py beside this file, imported without leaving a __pycache__ in the repository.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Server  # noqa: E402  (the sendfile server's threading HTTP server)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
# The placeholder that stands for the mirror's origin (`http://127.0.0.1:PORT`) in recorded pages.
ORIGIN = b"@MIRROR_ORIGIN@"
# File URLs on PyPI's file host; the last path segment is the file name, unique on PyPI.
FILE_URL = re.compile(
    rb"https://files\.pythonhosted\.org/packages/(?:[^\"'#?\s<>]*/)?([^/\"'#?\s<>]+)"
)
META = "meta.json"
# Bumped when the layout of a recording changes, so that an older one is recorded again.
FORMAT = 1


def normalize(name):
    """PEP 503 normalisation of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def fail(message):
    print("mirror: error: " + message, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# record


def read_pins(path):
    """`{project: (version, {sha256, ...})}` from a `--generate-hashes` requirements file."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    pins = {}
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if not match:
            fail(f"{path}: not a pinned requirement: {line[:80]}")
        hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        if not hashes:
            fail(f"{path}: {match.group(1)} has no --hash")
        pins[normalize(match.group(1))] = (match.group(2), hashes)
    return pins


def packaging():
    """The `tags` and `version` modules of `packaging` (pip's vendored copy if need be)."""
    try:
        from packaging import tags, version
    except ImportError:
        try:
            from pip._vendor.packaging import tags, version
        except ImportError:
            fail("needs `packaging` or pip in this interpreter, for its wheel tags")
    return tags, version


def fetch(url, accept=None, attempts=4):
    """The body of a GET of `url`, retried on network errors and 5xx."""
    headers = {"User-Agent": "cairn-bench-mirror"}
    if accept:
        headers["Accept"] = accept
    for attempt in range(attempts):
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt + 1 == attempts:
                raise
        except (urllib.error.URLError, OSError):
            if attempt + 1 == attempts:
                raise
        time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def write_atomically(path, data):
    with open(path + ".part", "wb") as file:
        file.write(data)
    os.replace(path + ".part", path)


def fetch_file(url, path, sha256=None):
    """Download `url` to `path` unless a file with the right digest is there already."""
    if os.path.exists(path):
        if sha256 is None:
            return
        with open(path, "rb") as file:
            if hashlib.file_digest(file, "sha256").hexdigest() == sha256:
                return
    data = fetch(url)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        fail(f"{url}: sha256 does not match the page's")
    write_atomically(path, data)


def record_project(index, root, project, version, hashes, supported, tags, versions):
    """Record one project's pages and the files its pin can use; returns the file names."""
    page_url = f"{index.rstrip('/')}/{project}/"
    page_json = fetch(page_url, JSON_TYPE)
    page_html = fetch(page_url, "text/html")
    pinned = versions.Version(version)
    chosen = []
    for entry in json.loads(page_json)["files"]:
        filename = entry["filename"]
        if not filename.endswith(".whl"):
            continue
        parts = filename[: -len(".whl")].split("-")
        if len(parts) not in (5, 6):
            continue
        try:
            if versions.Version(parts[1]) != pinned:
                continue
        except versions.InvalidVersion:
            continue
        if entry.get("hashes", {}).get("sha256") not in hashes:
            continue
        if not tags.parse_tag("-".join(parts[-3:])) & supported:
            continue
        chosen.append(entry)
    if not chosen:
        fail(f"{project}=={version}: no wheel on the page that this interpreter can install")
    names = []
    for entry in chosen:
        filename = entry["filename"]
        fetch_file(entry["url"], os.path.join(root, "files", filename), entry["hashes"]["sha256"])
        names.append(filename)
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        if metadata:
            digest = metadata.get("sha256") if isinstance(metadata, dict) else None
            path = os.path.join(root, "files", filename + ".metadata")
            fetch_file(entry["url"] + ".metadata", path, digest)
            names.append(filename + ".metadata")
    for suffix, body in (("json", page_json), ("html", page_html)):
        rewritten, count = FILE_URL.subn(ORIGIN + rb"/files/\1", body)
        if count == 0 or b"files.pythonhosted.org" in rewritten:
            fail(f"{project}: the {suffix} page's file URLs were not all rewritten")
        write_atomically(os.path.join(root, "pages", f"{project}.{suffix}"), rewritten)
    return names


def record(args):
    tags, versions = packaging()
    pins = read_pins(args.requirements)
    with open(args.requirements, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    supported = set(tags.sys_tags())
    root = args.dir
    meta_path = os.path.join(root, META)
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as file:
            meta = json.load(file)
        if meta.get("format") == FORMAT and meta.get("requirements_sha256") == digest:
            count = len(meta["projects"])
            print(f"mirror: {root} already records {count} projects", file=sys.stderr)
            return
        os.remove(meta_path)
    os.makedirs(os.path.join(root, "pages"), exist_ok=True)
    os.makedirs(os.path.join(root, "files"), exist_ok=True)
    files = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {
            pool.submit(
                record_project,
                *(args.index, root, project, version, hashes, supported, tags, versions),
            ): project
            for project, (version, hashes) in pins.items()
        }
        for future in concurrent.futures.as_completed(futures):
            files[futures[future]] = future.result()
    meta = {
        "format": FORMAT,
        "requirements": os.path.abspath(args.requirements),
        "requirements_sha256": digest,
        "index": args.index,
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "projects": {project: files[project] for project in sorted(files)},
    }
    # Written last: its presence marks a complete recording.
    write_atomically(meta_path, json.dumps(meta, indent=1).encode())
    wheels = sum(1 for names in files.values() for name in names if name.endswith(".whl"))
    print(f"mirror: recorded {len(files)} projects, {wheels} wheels in {root}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# serve


class Page:
    """One prepared response body: plain and gzip bytes and their ETags."""

    def __init__(self, body, kind):
        self.body = body
        self.gzip = gzip.compress(body, compresslevel=6, mtime=0)
        tag = hashlib.sha256(body).hexdigest()[:32]
        self.etag = f'"{tag}-{kind}"'
        self.gzip_etag = f'"{tag}-{kind}-gzip"'


def parse_accept(header):
    """`[(media_type, q)]` of an Accept header."""
    accepted = []
    for item in header.split(","):
        fields = [field.strip() for field in item.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for field in fields[1:]:
            if field.startswith("q="):
                try:
                    q = float(field[2:])
                except ValueError:
                    q = 0.0
        accepted.append((fields[0].lower(), q))
    return accepted


def negotiate(header, query):
    """The media type to answer with (PyPI's order on ties), or None for 406."""
    match = re.search(r"(?:^|&)format=([^&]+)", query)
    if match:
        # PEP 691: `?format=` stands for the Accept header.
        header = urllib.parse.unquote(match.group(1))
    if not header:
        return "text/html"
    # An explicit media type beats a wildcard of the same q; between wildcards, HTML (as PyPI).
    best, best_rank = None, (0.0, 0)
    for offered in ("text/html", HTML_TYPE, JSON_TYPE):
        rank = (0.0, 0)
        for media, weight in parse_accept(header):
            if media == offered:
                rank = max(rank, (weight, 1))
            elif media == "*/*" or (media == "text/*" and offered == "text/html"):
                rank = max(rank, (weight, 0))
        if rank[0] > 0 and rank > best_rank:
            best, best_rank = offered, rank
    return best


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and a small body go out as two writes: without this, Nagle's algorithm holds
        # the second until the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    def route(self, head):
        path, _, query = self.path.partition("?")
        self.sent = 0
        self.started = time.time()
        if path == "/simple" or path == "/simple/":
            self.page(self.server.root_pages, query, head)
        elif path.startswith("/simple/"):
            name = path[len("/simple/") :].rstrip("/")
            if "/" in name or not name:
                self.plain(404)
            elif normalize(name) != name or not path.endswith("/"):
                self.redirect(f"/simple/{normalize(name)}/" + (f"?{query}" if query else ""))
            elif name in self.server.pages:
                self.page(self.server.pages[name], query, head)
            else:
                self.plain(404)
        elif path.startswith("/files/"):
            self.file(path[len("/files/") :], head)
        else:
            self.plain(404)
        self.server.log(self, path)

    def plain(self, status, extra=()):
        self.status = status
        self.send_response(status)
        for key, value in extra:
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def redirect(self, location):
        self.plain(301, [("Location", location)])

    def page(self, pages, query, head):
        media = negotiate(self.headers.get("Accept", ""), query)
        if media is None:
            self.plain(406)
            return
        page = pages["json" if media == JSON_TYPE else "html"]
        zipped = "gzip" in self.headers.get("Accept-Encoding", "").lower()
        body, etag = (page.gzip, page.gzip_etag) if zipped else (page.body, page.etag)
        common = [
            ("ETag", etag),
            ("Cache-Control", "max-age=600, public"),
            ("Vary", "Accept, Accept-Encoding"),
        ]
        requested = self.headers.get("If-None-Match", "")
        if etag in [tag.strip() for tag in requested.split(",")] or requested.strip() == "*":
            self.plain(304, common)
            return
        self.status = 200
        self.send_response(200)
        self.send_header("Content-Type", media)
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        for key, value in common:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
            self.sent = len(body)

    def file(self, name, head):
        path = os.path.join(self.server.files, name)
        if "/" in name or not name or not os.path.isfile(path):
            self.plain(404)
            return
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            size = stat.st_size
            start, end, status = 0, size, 200
            ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
            if ranged and (ranged.group(1) or ranged.group(2)):
                first, last = ranged.groups()
                if first:
                    start, end = int(first), min(size, int(last) + 1) if last else size
                else:
                    start, end = max(0, size - int(last)), size
                if start >= end:
                    self.plain(416, [("Content-Range", f"bytes */{size}")])
                    return
                status = 206
            self.status = status
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(end - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
            self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
            self.end_headers()
            if head:
                return
            self.wfile.flush()
            offset = start
            while offset < end:
                sent = os.sendfile(self.connection.fileno(), file.fileno(), offset, end - offset)
                if sent == 0:
                    break
                offset += sent
            self.sent = offset - start

    def log_message(self, *args):
        pass


class MirrorServer(Server):
    # http.server's default backlog of 5 drops connections when a client opens dozens at once.
    request_queue_size = 256

    def log(self, handler, path):
        if self.log_file is None:
            return
        agent = (handler.headers.get("User-Agent", "").split(" ", 1)[0]) or "-"
        status = getattr(handler, "status", 0)
        times = f"{handler.started:.3f} {time.time():.3f}"
        line = f"{handler.command} {path} {status} {handler.sent} {agent} {times}\n"
        with self.log_lock:
            self.log_file.write(line)
            self.log_file.flush()


def load(root, origin):
    """`({project: {"json": Page, "html": Page}}, root index pages)` of a recording."""
    meta_path = os.path.join(root, META)
    if not os.path.exists(meta_path):
        fail(f"{root} holds no complete recording (no {META}): run `mirror.py record` first")
    with open(meta_path, encoding="utf-8") as file:
        projects = sorted(json.load(file)["projects"])
    pages = {}
    for project in projects:
        pages[project] = {}
        for kind in ("json", "html"):
            with open(os.path.join(root, "pages", f"{project}.{kind}"), "rb") as file:
                pages[project][kind] = Page(file.read().replace(ORIGIN, origin), kind)
    index_json = json.dumps(
        {"meta": {"api-version": "1.1"}, "projects": [{"name": project} for project in projects]}
    ).encode()
    links = "".join(f'<a href="/simple/{project}/">{project}</a>\n' for project in projects)
    index_html = f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode()
    return pages, {"json": Page(index_json, "json"), "html": Page(index_html, "html")}


def serve(args):
    server = MirrorServer(("127.0.0.1", args.port), Handler)
    origin = f"http://127.0.0.1:{server.server_address[1]}".encode()
    server.pages, server.root_pages = load(args.dir, origin)
    server.files = os.path.join(args.dir, "files")
    server.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
    server.log_lock = threading.Lock()
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="record a mirror from PyPI")
    rec.add_argument("requirements")
    rec.add_argument("dir")
    rec.add_argument("--index", default="https://pypi.org/simple")
    rec.add_argument("--jobs", type=int, default=8)
    srv = commands.add_parser("serve", help="serve a recorded mirror on 127.0.0.1")
    srv.add_argument("dir")
    srv.add_argument("--port", type=int, default=0)
    srv.add_argument("--log")
    args = parser.parse_args()
    if args.command == "record":
        record(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
