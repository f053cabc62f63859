"""Serve a built site the way GitHub Pages does: `make serve`, the browser tests and the site bench.

Three things a plain `python -m http.server` does differently, each of which changes what a reader
(or Lighthouse) sees: Pages compresses text with gzip, serves the site's own `404.html` for a
missing page, and serves a project's site under `/<repository>/`, not at the root.

    python -m cifarcmp.report.serve SITE_DIR [--port 8000] [--sub-path cifarcmp]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import io
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# What Pages compresses: text. PNGs and PDFs are compressed already.
COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")


class _Handler(SimpleHTTPRequestHandler):
    sub_path = ""  # "" or "/name": the prefix the site is served under

    def log_message(self, format, *args):  # noqa: A002 - the signature http.server defines
        pass

    def translate_path(self, path: str) -> str:
        # Outside the sub-path nothing exists, as on a project page.
        request_path = urllib.parse.urlsplit(path).path
        if self.sub_path:
            if request_path != self.sub_path and not request_path.startswith(self.sub_path + "/"):
                return str(Path(self.directory) / ".no-such-file")
            path = request_path[len(self.sub_path) :] or "/"
        return super().translate_path(path)

    def send_head(self):
        request_path = urllib.parse.urlsplit(self.path).path
        found = Path(self.translate_path(self.path))
        if found.is_dir():
            if not request_path.endswith("/"):
                return super().send_head()  # http.server's redirect to the folder's own slash
            found = found / "index.html"
        if not found.is_file():
            return self._send_not_found()
        content_type = self.guess_type(str(found))
        if "gzip" in self.headers.get("Accept-Encoding", "") and content_type.startswith(COMPRESSED_TYPES):
            return self._send_compressed(found, content_type)
        return super().send_head()

    def _send_compressed(self, found: Path, content_type: str):
        body = gzip.compress(found.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")  # what Pages sends
        self.end_headers()
        return io.BytesIO(body)  # what send_head returns: do_GET copies it to the socket

    def _send_not_found(self):
        page = Path(self.directory) / "404.html"
        if not page.is_file():
            self.send_error(404)
            return None
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)  # what send_head returns: do_GET copies it to the socket


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    url = ""  # the site's address, ending in /

    def handle_error(self, request, client_address):
        # A browser drops connections it no longer needs when it moves to the next page; a reset
        # socket is not an error worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _server(site: Path, sub_path: str, port: int) -> _Server:
    sub_path = "/" + sub_path.strip("/") if sub_path.strip("/") else ""
    handler = type("Handler", (_Handler,), {"sub_path": sub_path})
    httpd = _Server(("127.0.0.1", port), functools.partial(handler, directory=str(site)))
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}{sub_path}/"
    return httpd


@contextlib.contextmanager
def serving(site: Path, sub_path: str = "", port: int = 0) -> Iterator[str]:
    """Serve `site` in a background thread; yields the site's URL (ending in /)."""
    httpd = _server(site, sub_path, port)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.url
    finally:
        httpd.shutdown()
        httpd.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="a built site (site/)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sub-path", default="", help="serve under /NAME/, as a GitHub project page is")
    arguments = parser.parse_args(argv)
    if not (arguments.site / "index.html").is_file():
        print(f"error: {arguments.site}: no built site there (make site builds one)", file=sys.stderr)
        return 2
    try:
        httpd = _server(arguments.site, arguments.sub_path, arguments.port)
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{arguments.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"serving {arguments.site} on {httpd.url} (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
