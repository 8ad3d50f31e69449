"""The searchset Bundle: entries from the store's raw JSON, total, and keyset paging links."""

import uuid
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone

from ..models import FhirResource
from ..outcome import operation_outcome
from .search import Page, SearchQuery


def resource_json(row: FhirResource) -> dict[str, Any]:
    """The stored raw JSON with ``resourceType`` first (PostgreSQL's jsonb does not keep key order)."""
    return {"resourceType": getattr(row, "resource_type", "") or row.RESOURCE_TYPE, **row.raw}


def _link(relation: str, search_url: str, params: list[tuple[str, str]]) -> dict[str, str]:
    return {"relation": relation, "url": f"{search_url}?{urlencode(params)}" if params else search_url}


def bundle_searchset(*, search_url: str, query: SearchQuery, page: Page) -> dict[str, Any]:
    """A ``searchset`` Bundle for one page; ``search_url`` is the absolute ``/fhir/<Type>`` URL."""
    shape = list(query.echo)
    if query.summary_count:
        shape.append(("_summary", "count"))
    else:
        shape.append(("_count", str(query.count)))
    if not query.with_total:
        shape.append(("_total", "none"))
    here = [("_after", str(query.after))] if query.after else [("_before", str(query.before))] if query.before else []
    links = [_link("self", search_url, shape + here)]
    if not query.summary_count:
        links.append(_link("first", search_url, shape))
    if page.previous:
        links.append(_link("previous", search_url, [*shape, ("_before", str(page.previous))]))
    if page.next:
        links.append(_link("next", search_url, [*shape, ("_after", str(page.next))]))

    entries: list[dict[str, Any]] = [
        {"fullUrl": f"{search_url}/{row.fhir_id}", "resource": resource_json(row), "search": {"mode": "match"}}
        for row in page.rows
    ]
    if query.ignored:
        # Lenient handling: say what was left out, as FHIR's search.mode "outcome" entry.
        outcome = operation_outcome(" ".join(query.ignored), code="not-supported", severity="warning")
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": outcome, "search": {"mode": "outcome"}})

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": timezone.now().isoformat()},
        "type": "searchset",
    }
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle
