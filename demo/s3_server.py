"""The demo's S3: moto's S3 backend on loopback, in server mode, and nothing else.

    python -m demo.s3_server --port P        (the pipeline's venv: moto is a test dependency there)

`python -m moto.server` serves every AWS service behind one dispatcher, which finds each request's
service by matching it against some hundreds of URL patterns, and writes an access-log line per
request. The demo makes about 7,300 S3 requests (every step reads the lake's hourly partitions)
and needs no other service; the dispatcher's lookup and the log were about a third of moto's CPU
in a profiled small demo (py-spy, 2026-11-30). The app served here is the one the dispatcher hands
S3 requests to, so every request is answered by the same moto code.
"""
from __future__ import annotations

import argparse
import logging

from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import make_server


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, like the pipeline's CLI; not argparse's usage block
        self.exit(2, f"{self.prog}: {message}\n")


def main(argv: list[str] | None = None) -> None:
    parser = _Parser(prog="python -m demo.s3_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # Errors still reach the log; one line per request does not.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, create_backend_app("s3"), threaded=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
