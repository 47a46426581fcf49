"""The request framing of the two warm fork servers: demo/step_server.py (pipeline steps, its
caller demo/step_client.py) and tools/preview_server.py (previews). A caller sends one JSON object
after its length (HEADER), with its stdin, stdout and stderr attached (SCM_RIGHTS) where it wants
the work to write to them; what each server answers is its own.

Standard library only: demo/step_client.py imports it in an interpreter started with -S -E."""
from __future__ import annotations

import json
import os
import socket
import struct

HEADER = struct.Struct("!I")


def send_request(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """Sends `request` (JSON-serializable) framed by its length, with `fds` attached. Raises OSError."""
    body = json.dumps(request).encode()
    socket.send_fds(conn, [HEADER.pack(len(body))], fds)
    conn.sendall(body)


def receive_request(conn: socket.socket, max_bytes: int) -> tuple[dict, list[int]] | None:
    """The JSON object a caller sent with send_request, and the descriptors (at most 3) that came
    with it. None when the caller connected and closed without a byte (a readiness probe).
    Raises ValueError, with the descriptors closed, for a request longer than `max_bytes`, cut
    short, not JSON or not an object; OSError as the socket raises it."""
    data, fds, _, _ = socket.recv_fds(conn, HEADER.size + max_bytes, 3)
    if not data and not fds:
        return None
    try:
        (length,) = HEADER.unpack_from(data)
        if length > max_bytes:
            raise ValueError(f"a request of {length} bytes (at most {max_bytes})")
        body = data[HEADER.size:]
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                raise ValueError("the caller closed the connection mid-request")
            body += chunk
        request = json.loads(body)
        if not isinstance(request, dict):
            raise ValueError("the request is not a JSON object")
    except (struct.error, ValueError) as exc:
        for fd in fds:
            os.close(fd)
        raise ValueError(str(exc)) from None
    return request, fds
