"""How a worklist row reads: due and overdue as durations a person says, the age, the queue's
label, and who acts next when the row cannot be claimed; plus the links the pages build."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from ..sla import sla_status
from .spec import WorklistSpec


def span(delta: timedelta) -> str:
    """A duration as a person says it: ``45 min``, ``2 h``, ``3 d``."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def due_text(item: Any, status: str, now: datetime) -> str:
    if status == "paused":
        return "Paused"
    if status == "overdue":
        return f"Overdue by {span(now - item.due_at)}"
    return f"Due in {span(item.due_at - now)}"


@dataclass
class Row:
    item: Any
    sla: str
    due: str
    age: str
    queue: str
    claim_refusal: str  # "" when it may be claimed here, else who acts next
    detail_url: str = ""
    claim_url: str = ""
    release_url: str = ""

    @property
    def patient(self) -> Any:
        return getattr(self.item, "patient", None)


URL_SENTINEL = 2_147_000_001  # an id no route resolves differently


def item_url_maker(spec: WorklistSpec, name: str) -> Callable[[int], str]:
    """``pk -> url`` for one of the workflow's item routes, reversed once (not once per row)."""
    head, _, tail = spec.url(name, URL_SENTINEL).partition(str(URL_SENTINEL))
    return lambda pk: f"{head}{pk}{tail}"


def rows_for(spec: WorklistSpec, items: list[Any]) -> list[Row]:
    now = timezone.now()
    detail, claim, release = (item_url_maker(spec, name) for name in ("detail", "claim", "release"))
    rows = []
    for item in items:
        status = sla_status(item, now=now)
        rows.append(
            Row(
                item=item,
                sla=status,
                due=due_text(item, status, now),
                age=span(now - item.opened_at),
                queue=spec.queue_label(item.queue),
                claim_refusal=spec.claim_refusal(item),
                detail_url=detail(item.pk),
                claim_url=claim(item.pk),
                release_url=release(item.pk),
            )
        )
    return rows


def with_query(url: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    return f"{url}?{urlencode(params)}" if params else url


def back_url(request: HttpRequest, default: str) -> str:
    """Where a plain POST returns to: the page it came from (same host only), else ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"
