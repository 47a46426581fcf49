"""Errors that reach the client as a 4xx/503 with a message saying what was wrong."""
from __future__ import annotations


class ClientError(Exception):
    """Bad input or a request the pod cannot serve yet; never logged as a server fault."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ClientError:
    return ClientError(400, message)


def not_found(message: str) -> ClientError:
    return ClientError(404, message)


class ModelLoadError(Exception):
    """The model could not be fetched, opened or warmed up: the pod stays not-ready."""
