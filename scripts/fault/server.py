"""A wheel server on 127.0.0.1 that misbehaves on request: the path's first segment names the
fault (`/good/<file>`, `/cut1/<file>`, ...), the rest names a file of the wheel directory."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Each fault: what the server does, and on which requests ("1": the first request to the path
# only, the next ones are served well; "all": every request).
FAULTS = {
    "good": "serves the file",
    "cut1": "cuts the body halfway and closes (first request)",
    "cutall": "cuts the body halfway and closes (every request)",
    "long1": "Content-Length 4096 more than the body, then closes (first request)",
    "longall": "Content-Length 4096 more than the body, then closes (every request)",
    "short": "Content-Length 4096 less than the file, body cut to it (every request)",
    "stall1": "no headers for longer than the read timeout (first request)",
    "stallbody1": "headers and half the body, then silence past the read timeout (first request)",
    "stallall": "no headers for longer than the read timeout (every request)",
    "e500": "500 then 200",
    "e429": "429 with Retry-After: 1 then 200",
    "e500all": "500 on every request",
    "wrong": "200 with another wheel's bytes under this name",
    "html": "200 with an HTML error page (Content-Type text/html)",
}

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
             b"<body><h1>Error 503</h1><p>Backend fetch failed.</p></body></html>\n")


class FaultServer:
    """Serves `wheels` on 127.0.0.1 with the faults above; counts requests per path."""

    def __init__(self, wheels: Path, stall_seconds: float = 4.0, wrong_source: Path | None = None):
        self.wheels = wheels
        self.stall = stall_seconds
        self.wrong_source = wrong_source
        self.requests: Counter = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.handle(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # Clients killed mid-request (the SIGKILL loops) reset their connections.
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, fault: str, filename: str, sha256: str | None = None) -> str:
        url = f"http://127.0.0.1:{self.port}/{fault}/{filename}"
        return f"{url}#sha256={sha256}" if sha256 else url

    def count(self, fault: str, filename: str) -> int:
        with self.lock:
            return self.requests[f"/{fault}/{filename}"]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests[req.path] += 1
            nth = self.requests[req.path]
        parts = req.path.lstrip("/").split("/", 1)
        if len(parts) != 2 or parts[0] not in FAULTS or "/" in parts[1]:
            self.send(req, 404, b"not found\n", "text/plain")
            return
        fault, name = parts
        path = self.wheels / name
        if not path.is_file():
            self.send(req, 404, b"not found\n", "text/plain")
            return
        body = path.read_bytes()
        first = nth == 1
        try:
            if fault == "good":
                self.send(req, 200, body)
            elif fault in ("cut1", "cutall") and (first or fault == "cutall"):
                self.headers(req, 200, len(body))
                req.wfile.write(body[: len(body) // 2])
                req.wfile.flush()
                req.close_connection = True
            elif fault in ("long1", "longall") and (first or fault == "longall"):
                self.headers(req, 200, len(body) + 4096)
                req.wfile.write(body)
                req.wfile.flush()
                req.close_connection = True
            elif fault == "short":
                size = max(len(body) - 4096, 1)
                self.headers(req, 200, size)
                req.wfile.write(body[:size])
            elif fault in ("stall1", "stallall") and (first or fault == "stallall"):
                time.sleep(self.stall)
                self.send(req, 200, body)
            elif fault == "stallbody1" and first:
                self.headers(req, 200, len(body))
                req.wfile.write(body[: len(body) // 2])
                req.wfile.flush()
                time.sleep(self.stall)
                req.close_connection = True
            elif fault == "e500" and first or fault == "e500all":
                self.send(req, 500, b"internal error\n", "text/plain")
            elif fault == "e429" and first:
                self.send(req, 429, b"slow down\n", "text/plain", {"Retry-After": "1"})
            elif fault == "wrong":
                other = self.wrong_source.read_bytes() if self.wrong_source else body[::-1]
                self.send(req, 200, other)
            elif fault == "html":
                self.send(req, 200, HTML_PAGE, "text/html; charset=utf-8")
            else:
                self.send(req, 200, body)
        except (BrokenPipeError, ConnectionResetError):
            req.close_connection = True

    @staticmethod
    def headers(req, status, length, content_type="application/octet-stream", extra=None):
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            req.send_header(key, value)
        req.end_headers()

    def send(self, req, status, body, content_type="application/octet-stream", extra=None):
        self.headers(req, status, len(body), content_type, extra)
        req.wfile.write(body)
        req.wfile.flush()
