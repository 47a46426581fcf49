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

# A number token (after a key's ": " or at the start of a list item's line) in a form json
# writes differently. Strings are quoted, so only numbers follow these directly; a string
# that merely contains such text sends the value to json, which is slower, never different.
_FLOAT_FORM_JSON_WRITES_OTHERWISE = re.compile(rb"(?::|\n) *-?(?:0\.0000|[0-9.]+e-)")


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
    except (TypeError, ValueError, orjson.JSONEncodeError):
        return None
    if not data.isascii() or b"\x7f" in data or _FLOAT_FORM_JSON_WRITES_OTHERWISE.search(data):
        return None
    return data.decode("ascii")
