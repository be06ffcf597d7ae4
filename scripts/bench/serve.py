#!/usr/bin/env python3
"""Serve the files of one directory over HTTP on 127.0.0.1 with sendfile(2), for streaming
benchmarks: the kernel copies the bytes, so the server takes almost no CPU from the client it
is measuring (Python's http.server copies every byte through user space).

Usage: serve.py DIR [PORT [MB_PER_S]]
    Prints "ready PORT" once listening (PORT 0 or absent: any free port). GET and HEAD of the
    directory's files only. With MB_PER_S, each response is paced to that many megabytes per
    second, like a download from a real index.
"""

import http.server
import os
import socketserver
import sys
import time

# Bytes sent between two checks of the pace.
PACE_CHUNK = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _open(self):
        name = os.path.basename(self.path.split("?", 1)[0])
        path = os.path.join(self.server.root, name)
        if not name or not os.path.isfile(path):
            self.send_error(404)
            return None
        file = open(path, "rb")
        size = os.fstat(file.fileno()).st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        return file, size

    def do_HEAD(self):
        opened = self._open()
        if opened:
            opened[0].close()

    def do_GET(self):
        opened = self._open()
        if not opened:
            return
        file, size = opened
        rate = self.server.rate
        with file:
            self.wfile.flush()
            offset = 0
            started = time.monotonic()
            while offset < size:
                count = size - offset if rate is None else min(PACE_CHUNK, size - offset)
                sent = os.sendfile(self.connection.fileno(), file.fileno(), offset, count)
                if sent == 0:
                    break
                offset += sent
                if rate is not None:
                    ahead = offset / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    root = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = Server(("127.0.0.1", port), Handler)
    server.root = root
    server.rate = float(sys.argv[3]) * 1e6 if len(sys.argv) > 3 else None
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
