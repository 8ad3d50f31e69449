"""The main navigation. Each app registers its entries in ``AppConfig.ready()``; an entry is
shown only to users who hold its permission (or pass its check)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    order: int = 100
    permission: str | None = None
    check: Callable[[Any], bool] | None = None

    def visible_to(self, user: Any) -> bool:
        if self.permission and not user.has_perm(self.permission):
            return False
        return self.check(user) if self.check else True


_entries: dict[str, NavEntry] = {}


def nav_register(entry: NavEntry) -> None:
    """Add (or replace) a navigation entry, keyed by its URL name."""
    _entries[entry.url_name] = entry


def nav_for(user: Any, current_path: str) -> list[dict[str, Any]]:
    """The entries this user may see, in order, with the current one marked."""
    visible = [(e.label, reverse(e.url_name)) for e in sorted(_entries.values(), key=lambda e: (e.order, e.label))
               if e.visible_to(user)]  # fmt: skip
    # The longest entry that holds the page is the current one: /intake/worklist/ is the
    # "Pre-visit worklist", not "Intake" as well; /admin/terminology/ is not "Admin" too.
    holding = [url for _, url in visible if _holds(url, current_path)]
    current = max(holding, key=len) if holding else None
    return [{"label": label, "url": url, "current": url == current} for label, url in visible]


def _holds(url: str, path: str) -> bool:
    return path == url if url == "/" else path.startswith(url)
