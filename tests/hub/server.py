"""A checkpoint server on 127.0.0.1 for the weights-by-name tests.

It serves the files the test registers, each under a path with a mode:
``'file'`` (the bytes, ``application/octet-stream``), ``'truncated'``
(announces every byte, sends half, closes), ``'html'`` (an HTML page with
``text/html``), ``'html-octet'`` (an HTML page sent as
``application/octet-stream``, as some file hosts do) and ``'slow'`` (the
bytes in 8 pieces, 0.4 s apart). It counts the requests per path.
"""
import http.server
import threading
import time
from collections import Counter
from typing import Dict, Tuple

HTML = (b'<!DOCTYPE html><html><head><title>Sign in</title></head>'
        b'<body>Sign in to see this file</body></html>')


class CheckpointServer:
    """``with CheckpointServer() as server:`` serves ``server.files``
    (``{path: (bytes, mode)}``) at ``server.url(path)``; ``stop()`` closes
    it early (a later request is refused by the OS)."""

    def __init__(self):
        self.files: Dict[str, Tuple[bytes, str]] = {}
        self.requests = Counter()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):

            def do_GET(self):  # noqa: N802 (http.server's name)
                outer.requests[self.path] += 1
                if self.path not in outer.files:
                    self.send_error(404)
                    return
                data, mode = outer.files[self.path]
                kind = 'application/octet-stream'
                if mode in ('html', 'html-octet'):
                    data = HTML
                    kind = 'text/html; charset=utf-8' if mode == 'html' \
                        else kind
                self.send_response(200)
                self.send_header('Content-Type', kind)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                if mode == 'truncated':
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if mode == 'slow':
                    step = len(data) // 8 + 1
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i:i + step])
                        self.wfile.flush()
                        time.sleep(0.4)
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.httpd.server_port}{path}'

    def __enter__(self):
        self.thread.start()
        return self

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()

    def __exit__(self, *exc):
        self.stop()
