"""httpx calls to the local servers the tests and the benchmark start (plain HTTP on loopback).

httpx builds an SSL context for every client it creates, `httpx.get` and `httpx.post` included,
whatever the URL's scheme, and loading the system's CA bundle into it cost 31 ms of CPU per call
on the 2-core test machine: 68% of the serving suite's own CPU, in readiness polls and load loops
(py-spy, 2026-12-01). Every call here shares one context; each call still opens and closes its own
connection, as `httpx.get` does, so no test sees a pooled keep-alive connection it did not ask for.
"""
from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def ssl_context() -> ssl.SSLContext:
    """The one context every client here verifies with (httpx's default: the system's CA bundle)."""
    return ssl.create_default_context()


def request(method: str, url: str, **kwargs) -> httpx.Response:
    """`httpx.request(method, url, **kwargs)` with the shared context."""
    return httpx.request(method, url, verify=ssl_context(), **kwargs)


def get(url: str, **kwargs) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs) -> httpx.Response:
    return request("POST", url, **kwargs)


def client(**kwargs) -> httpx.Client:
    """`httpx.Client(**kwargs)` with the shared context: a pooled client, for keep-alive traffic."""
    return httpx.Client(verify=ssl_context(), **kwargs)
