"""`dump_json(value)`: the text `json.dumps(value, indent=2, sort_keys=True)` writes, through
orjson's encoder wherever orjson writes the same bytes.

The standard library encodes with an indent in pure Python (its C encoder takes no indent before
Python 3.14): a 200-model dev stack's resources.json (14 MB) took 1.01 s of CPU there and 0.04 s
in orjson (2026-12-01, same bytes). The two differ in a few places, each checked before orjson's
text is used, so the preview stays byte-identical to the one written before:
- orjson writes non-ASCII characters and DEL as they are, json escapes them: orjson's text must
  be ASCII without DEL;
- orjson writes NaN and infinities as `null`, json as `NaN` / `Infinity`: the value must pass
  json's own check (`allow_nan=False`, its C encoder, ~0.2 s on that stack);
- orjson writes a float below 1e-4 in another form (`0.00001`, `1e-8`; json `1e-05`, `1e-08`):
  no number token may start `0.0000` or hold `e-`;
- orjson refuses what json would convert (an int over 64 bits, a non-string key): TypeError.
Any of these sends the value to json. tests/test_render.py compares the two on generated values.
"""
from __future__ import annotations

import json
import re
from typing import Any

import orjson

# Where a float json writes in exponent form may stand: orjson writes those below 1e-4 as
# `1e-8` or `0.00001`. Searched for as literals (a scan of a 14 MB resources.json: 0.02 s; one
# regex for the whole number token took 0.57 s), then looked at where they were found.
_NEGATIVE_EXPONENT = re.compile(rb"e-[0-9]")
_FOUR_ZEROS = re.compile(rb"0\.0000")


def dump_json(value: Any) -> str:
    """`json.dumps(value, indent=2, sort_keys=True)`, byte for byte.

    value: JSON-shaped data (dicts with string keys, lists, strings, numbers, booleans, None).
    Raises what json.dumps raises for anything else."""
    text = _through_orjson(value)
    return text if text is not None else json.dumps(value, indent=2, sort_keys=True)


def written_by_orjson(value: Any) -> bool:
    """Whether `dump_json` takes orjson's text for `value` (for the tests)."""
    return _through_orjson(value) is not None


def _through_orjson(value: Any) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return None
    if not data.isascii() or b"\x7f" in data or _small_float(data):
        return None
    return data.decode("ascii")


def _small_float(data: bytes) -> bool:
    """A number below 1e-4 in orjson's `data`: a match inside a number token, which follows a
    key's `: ` or a list item's indentation (strings are quoted, so a string only counts when
    its own text reads `: 1e-8`, and then json writes the value, which is slower, never wrong)."""
    found = [m.start() for m in _NEGATIVE_EXPONENT.finditer(data)]
    if b"0.0000" in data:
        found += [m.start() for m in _FOUR_ZEROS.finditer(data)]
    for at in found:
        start = at
        while start and data[start - 1] in b"0123456789.-":
            start -= 1
        spaces = start
        while spaces and data[spaces - 1] == 32:
            spaces -= 1
        if spaces < start and (spaces == 0 or data[spaces - 1] in b":\n"):
            return True
    return False
