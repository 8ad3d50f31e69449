"""Access logging: every page and API that shows patient data records who saw what."""

from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.http import HttpRequest

from .audit_chain import seal_now_or_later
from .client_ip import client_ip
from .emergency import is_emergency_view
from .models import AccessLog, AuditSeal, Site


def access_log(
    request: HttpRequest,
    *,
    patient: str,
    what: str,
    action: str = AccessLog.Action.VIEW,
    site: Site | None = None,
) -> AccessLog:
    """Record that ``request.user`` saw ``what`` about ``patient`` (a local reference, never a name)."""
    return access_log_record(
        user=request.user,
        patient=patient,
        what=what,
        action=action,
        site=site,
        path=request.path[:255],
        remote_addr=client_ip(request),
        correlation_id=request.headers.get("X-Correlation-ID", "")[:64],
    )


def access_log_record(
    *,
    user: Any,
    patient: str,
    what: str,
    action: str = AccessLog.Action.VIEW,
    site: Site | None = None,
    path: str = "",
    remote_addr: str | None = None,
    correlation_id: str = "",
) -> AccessLog:
    """Write one access-log row (sealed into the audit chain); for callers without a request."""
    return AccessLog.objects.create(
        user=user,
        patient=patient,
        what=what,
        action=action,
        site=site,
        path=path,
        remote_addr=remote_addr,
        correlation_id=correlation_id,
        emergency=is_emergency_view(user, patient, site.pk if site else None),
    )


def access_log_many(
    request: HttpRequest,
    *,
    entries: Iterable[tuple[str, str]],
    action: str = AccessLog.Action.VIEW,
    site: Site | None = None,
) -> list[AccessLog]:
    """Record one row per ``(patient, what)`` that ``request.user`` saw, in one bulk INSERT."""
    return _access_log_rows(request, entries=[(patient, what, site) for patient, what in entries], action=action)


def _access_log_rows(
    request: HttpRequest, *, entries: list[tuple[str, str, Site | None]], action: str, seal: bool = True
) -> list[AccessLog]:
    """One row per ``(patient, what, site)``, whatever the sites: one bulk INSERT and, with ``seal``,
    one seal (without: the ``core.audit_seal_pending`` sweep seals them within a minute)."""
    common = {
        "user": request.user,
        "action": action,
        "path": request.path[:255],
        "remote_addr": client_ip(request),
        "correlation_id": request.headers.get("X-Correlation-ID", "")[:64],
    }
    rows = [
        AccessLog(
            patient=patient,
            what=what,
            site=site,
            emergency=is_emergency_view(request.user, patient, site.pk if site else None),
            **common,
        )
        for patient, what, site in entries
    ]
    if not rows:
        return []
    fields = [field for field in AccessLog._meta.concrete_fields if not field.primary_key]
    if not seal and connections[AccessLog.objects.db].ops.bulk_batch_size(fields, rows) >= len(rows):
        # One INSERT statement is atomic by itself: without a seal to write with it, bulk_create's
        # transaction is two round trips (BEGIN, COMMIT) for nothing. The rows get no ids here.
        AccessLog.objects.all()._insert(rows, fields=fields)  # type: ignore[attr-defined]  # bulk_create minus atomic()
        return rows
    created = AccessLog.objects.bulk_create(rows)
    if seal:
        # bulk_create sends no post_save: seal here (ids are set on PostgreSQL and SQLite).
        seal_now_or_later(AuditSeal.Kind.ACCESS, [row.pk for row in created])
    return created


def access_log_listed(
    request: HttpRequest,
    items: Iterable[Any],
    *,
    action: str = AccessLog.Action.LIST,
    only_patients_shown: bool = True,
) -> list[AccessLog]:
    """Record that ``request.user`` saw these work items: one row per item (``<workflow>:<id>`` about
    its ``patient_ref`` and site), one INSERT in all. With ``only_patients_shown``, items whose ``patient``
    was not shown (None: not arrived, or a role that sees no patients) are not logged.

    The rows are written in the request but sealed by the sweep (beat, every minute), not here:
    sealing is seven statements under the chain's lock on every list page, the pages staff open
    most. The trade-off: a list's rows are outside the chain for up to a minute (the sweep's
    interval), so a database owner deleting one in that minute leaves no trace in the chain; the
    row itself is still written, in the request, before the page is sent."""
    entries = [
        (item.patient_ref, f"{item.WORKFLOW}:{item.pk}", item.site)
        for item in items
        if not (only_patients_shown and getattr(item, "patient", None) is None)
    ]
    # One INSERT for the whole list, whichever sites its items are at.
    return _access_log_rows(request, entries=entries, action=action, seal=False)
