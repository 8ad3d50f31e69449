"""A static-files finder for the one file the charts need from the installed plotly package
(``plotly/plotly.min.js``), so neither a CDN nor the package's other 9 MB is served."""

import importlib.util
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "plotly/plotly.min.js"


def _package_data() -> Path:
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise ImproperlyConfigured("plotly is not installed (requirements.txt).")
    return Path(spec.origin).parent / "package_data"


class PlotlyFinder(BaseFinder):
    def check(self, **kwargs: Any) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if path != PLOTLY_JS:
            return [] if find_all or kwargs.get("all") else None
        found = str(_package_data() / "plotly.min.js")
        return [found] if find_all or kwargs.get("all") else found

    def list(self, ignore_patterns: Any) -> Any:
        storage = FileSystemStorage(location=str(_package_data()))
        storage.prefix = "plotly"  # type: ignore[attr-defined]  # collectstatic reads it (as for STATICFILES_DIRS)
        yield "plotly.min.js", storage
