"""The JSON parser of every DRF API: ``apps.core.json_input`` limits (nesting depth, lone
surrogates), so hostile bodies are a 400 saying why instead of a ``RecursionError`` (a 500)."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .json_input import JsonInputError, json_loads


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = stream.read() if stream is not None else b""
        try:
            if encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
                data = data.decode(encoding)
            return json_loads(data)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding} text.") from exc
        except JsonInputError as exc:
            raise ParseError(f"JSON parse error - {exc.message}") from exc
