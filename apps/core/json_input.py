"""JSON from outside (webhook bodies, API bodies, ``$translate``, imported files), parsed with limits.

``json.loads`` alone answers hostile input with exceptions nobody catches: a document nested
thousands deep raises ``RecursionError`` (and one nested a few hundred deep parses, then breaks
the code that walks it), and an escaped lone surrogate (``"\\ud800"``) parses into a string that
cannot be encoded as UTF-8, so it fails later when hashed or stored. ``json_loads`` refuses both
with a ``JsonInputError`` whose message says what is wrong, for every caller to answer 400.
"""

import json
import re
from itertools import accumulate
from typing import Any

from django.conf import settings

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = [0] * 256
for _open in b"[{":
    _DELTA[_open] = 1
for _close in b"]}":
    _DELTA[_close] = -1
# A backslash-u escape of a surrogate: only then can the parsed text hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonInputError(ValueError):
    """The text is not JSON we accept; ``message`` is for the sender."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def max_depth() -> int:
    return int(getattr(settings, "CLINOPS_JSON_MAX_DEPTH", 100))


def nesting_depth(data: bytes) -> int:
    """How deep arrays and objects nest in ``data`` (0 for a scalar), in C-speed passes."""
    # Brackets inside strings nest nothing: drop escaped backslashes and quotes, then every other
    # piece between quotes is outside the strings (bytes methods only: about half of what
    # json.loads itself takes on a large Bundle).
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(_DELTA.__getitem__, brackets)))


def json_loads(data: bytes | str, *, limit: int | None = None) -> Any:
    """Parse JSON, refusing nesting deeper than ``limit`` (CLINOPS_JSON_MAX_DEPTH) and lone surrogates.

    Raises ``JsonInputError`` for those, for text that is not UTF-8 and for malformed JSON
    (saying the line and column)."""
    limit = max_depth() if limit is None else limit
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonInputError(f"The body is not UTF-8 text (byte {exc.start}).") from None
        raw = data
    else:
        text = data
        raw = data.encode("utf-8", "surrogatepass")
    depth = nesting_depth(raw)
    if depth > limit:
        raise JsonInputError(f"The JSON nests {depth} levels deep; at most {limit} are accepted.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except RecursionError:  # unreachable after the depth check, kept as a guard
        raise JsonInputError(f"The JSON nests more than {limit} levels deep.") from None
    if _SURROGATE_ESCAPE.search(text) and (where := lone_surrogate_path(value)) is not None:
        raise JsonInputError(f"The JSON holds a lone UTF-16 surrogate (\\ud800-\\udfff) at {where or 'the top'}.")
    return value


def lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """The path (``a.b[2]``) of the first string holding a lone surrogate, or None."""
    if isinstance(value, str):
        return path if _has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _has_surrogate(key):
                return here.encode("utf-8", "replace").decode()
            if (found := lone_surrogate_path(item, here)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := lone_surrogate_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_problem(value: str) -> str:
    """Why a form value cannot be stored as text ("" when it can): PostgreSQL refuses NUL characters."""
    if "\x00" in value:
        return "holds a NUL character (\\0), which is not text"
    if _has_surrogate(value):
        return "holds a lone UTF-16 surrogate, which is not text"
    return ""
