"""Assist tests: a local HTTP server for the fixture responses, a fake OpenAI-compatible client, and one
temporary folder for the unpacked embedded models (never the user's cache)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


class LocalServer:
    """Serves ``routes[path] = (status, content_type, body)``; records the requested paths."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, ctype, body = server.routes.get(self.path.split("?")[0], (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture(scope="session")
def assist_models(tmp_path_factory) -> Path:
    """Where the embedded models are unpacked during the tests (shared, so each is unpacked once)."""
    return tmp_path_factory.mktemp("assist-models")


@pytest.fixture(autouse=True)
def _models_in_tmp(assist_models, monkeypatch) -> None:
    monkeypatch.setenv("TAGFORMER_ASSIST_MODELS", str(assist_models))
