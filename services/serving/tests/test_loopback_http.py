"""tools/loopback_http.py: one SSL context for every call, and still a connection per call."""
from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools import loopback_http


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a pooled client would reuse its connection

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = f"{self.command} {self.client_address[1]} {body.decode()}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def contexts_built(monkeypatch):
    built: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    loopback_http.ssl_context.cache_clear()
    yield built
    loopback_http.ssl_context.cache_clear()


def test_every_call_shares_one_context(server, contexts_built):
    answers = [loopback_http.get(f"{server}/a", timeout=5), loopback_http.post(f"{server}/b", content=b"x", timeout=5),
               loopback_http.request("PUT", f"{server}/c", timeout=5)]
    with loopback_http.client(base_url=server, timeout=5) as client:
        answers.append(client.get("/d"))
    assert [a.text.split()[0] for a in answers] == ["GET", "POST", "PUT", "GET"]
    assert answers[1].text.endswith(" x")
    assert len(contexts_built) == 1


def test_each_call_opens_its_own_connection_and_a_client_keeps_one(server, contexts_built):
    ports = {loopback_http.get(server, timeout=5).text.split()[1] for _ in range(3)}
    assert len(ports) == 3
    with loopback_http.client(base_url=server, timeout=5) as client:
        assert len({client.get("/").text.split()[1] for _ in range(3)}) == 1
