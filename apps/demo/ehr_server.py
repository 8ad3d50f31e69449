"""The simulated EHR's FHIR Task and Appointment endpoints: where the demo source's write-backs
go (DEBUG only).

The referral workflow closes the loop by updating the referrer's Task on the EHR, and the front
desk's check-in or no-show updates the visit's Appointment (the outbox: read the resource, then
``PUT`` it with ``If-Match``). The simulated EHR has no FHIR server of its own, so without this
every write-back of the demo would end as a dead letter. These endpoints answer as the EHR would
for the demo source only: a read returns the resource as the EHR last sent it (from clinops's
synced store) or as the last write left it, with its version; a write needs the source's bearer
token and the current version (else 412) and keeps the new version in memory (a demo EHR,
forgotten when the server restarts, like the live feed). With DEBUG off it is a 404.

Booking (issue 15): ``POST [base]/Appointment`` books a slot as an EHR would: the conditional
create's ``If-None-Exist: identifier=system|value`` answers 200 with the Appointment already made
(a retry books nothing twice), a slot another live Appointment holds is a 409, else 201 with the
new Appointment. ``POST [base]/Communication`` takes the referral questions clinops sends.
``GET [base]/Schedule`` and ``GET [base]/Slot?status=free&start=ge…`` answer the live slot search
with the simulated EHR's own schedules for the coming weekdays (apps/demo/schedule.py): a slot a
live Appointment holds is busy, and a slot freed by a cancelled one has a new version (a booking's
conditional create is keyed on the slot's version), paged with ``_count`` and a ``next`` link.
"""

import json
import secrets
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.ehr.models import Appointment, EhrSource, Task

SOURCE = "demo-ehr"
FHIR_JSON = "application/fhir+json"
STORED = {"Task": Task, "Appointment": Appointment}  # what the simulated EHR lets clinops write
_written: dict[tuple[str, str], dict] = {}  # (type, id) → the resource as the last write left it
_lock = threading.Lock()


def _outcome(status: int, code: str, text: str) -> JsonResponse:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return JsonResponse(body, status=status, content_type=FHIR_JSON)


def _current(kind: str, fhir_id: str) -> dict | None:
    with _lock:
        if (kind, fhir_id) in _written:
            return _written[(kind, fhir_id)]
    record = STORED[kind].objects.filter(source__name=SOURCE, fhir_id=fhir_id).first()
    if record is None:
        return None
    return {**record.raw, "meta": {**(record.raw.get("meta") or {}), "versionId": record.version_id or "1"}}


def _authorised(request: HttpRequest) -> bool:
    source = EhrSource.objects.filter(name=SOURCE).first()
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not (source and source.bearer_token and token):
        return False
    return secrets.compare_digest(token, source.bearer_token)


def _answer(resource: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(resource, status=status, content_type=FHIR_JSON)
    response["ETag"] = f'W/"{resource["meta"]["versionId"]}"'
    return response


@login_not_required  # the EHR signs in with the source's bearer token, not a session
@csrf_exempt  # a machine-to-machine FHIR API authenticated by the bearer token, like the EHR's own
@require_http_methods(["GET", "PUT"])
def task(request: HttpRequest, fhir_id: str) -> HttpResponse:
    """``GET``/``PUT [base]/Task/<id>`` of the simulated EHR."""
    return _resource(request, "Task", fhir_id)


@login_not_required  # as ``task``
@csrf_exempt
@require_http_methods(["GET", "PUT"])
def appointment(request: HttpRequest, fhir_id: str) -> HttpResponse:
    """``GET``/``PUT [base]/Appointment/<id>`` of the simulated EHR (the front desk's check-ins)."""
    return _resource(request, "Appointment", fhir_id)


@login_not_required  # as ``task``
@csrf_exempt
@require_http_methods(["POST"])
def appointment_create(request: HttpRequest) -> HttpResponse:
    """``POST [base]/Appointment``: book a slot (conditional create; 409 when the slot is taken)."""
    problem = _create_refusal(request)
    if problem is not None:
        return problem
    body = json.loads(request.body)
    if body.get("resourceType") != "Appointment":
        return _outcome(400, "invalid", "Expected an Appointment.")
    wanted = (parse_qs(request.headers.get("If-None-Exist", "")).get("identifier") or [""])[0]
    slots = {s.get("reference") for s in body.get("slot") or [] if isinstance(s, dict)}
    with _lock:
        mine = [r for (kind, _), r in _written.items() if kind == "Appointment"]
        for existing in mine:
            ids = {f"{i.get('system')}|{i.get('value')}" for i in existing.get("identifier") or []}
            if wanted and wanted in ids:
                return _answer(existing, 200)
        held = {s.get("reference") for r in mine if r.get("status") != "cancelled" for s in r.get("slot") or []}
        stored = Appointment.objects.filter(
            source__name=SOURCE, slot_ref__in=[s for s in slots if s], deleted=False
        ).exclude(status__in=["cancelled", "noshow", "entered-in-error"])
        if slots & held or stored.exists():
            return _outcome(409, "conflict", "The slot is already booked.")
        created = {**body, "id": f"clinops-{secrets.token_hex(6)}", "meta": {"versionId": "1"}}
        _written[("Appointment", created["id"])] = created
    return _answer(created, 201)


@login_not_required  # as ``task``
@csrf_exempt
@require_http_methods(["POST"])
def communication_create(request: HttpRequest) -> HttpResponse:
    """``POST [base]/Communication``: a question for the referrer, kept like any write."""
    problem = _create_refusal(request)
    if problem is not None:
        return problem
    body = json.loads(request.body)
    if body.get("resourceType") != "Communication":
        return _outcome(400, "invalid", "Expected a Communication.")
    created = {**body, "id": f"clinops-{secrets.token_hex(6)}", "meta": {"versionId": "1"}}
    with _lock:
        _written[("Communication", created["id"])] = created
    return _answer(created, 201)


SEARCH_PAGE_MAX = 200


@login_not_required  # as ``task``
@csrf_exempt
@require_http_methods(["GET"])
def schedule_search(request: HttpRequest) -> HttpResponse:
    """``GET [base]/Schedule``: the simulated EHR's clinic schedules."""
    return _search(request, "Schedule")


@login_not_required  # as ``task``
@csrf_exempt
@require_http_methods(["GET"])
def slot_search(request: HttpRequest) -> HttpResponse:
    """``GET [base]/Slot`` with ``status``, ``schedule``, ``start`` (``ge``/``gt``/``le``/``lt``) and ``_count``."""
    return _search(request, "Slot")


def _slot_holders() -> tuple[set[str], Counter]:
    """The slots live Appointments hold, and how often each slot was freed (its version bumps)."""
    with _lock:
        written = [r for (kind, _), r in _written.items() if kind == "Appointment"]
    rows = [(a.get("status", ""), [s.get("reference", "") for s in a.get("slot") or [] if isinstance(s, dict)])
            for a in written]  # fmt: skip
    ids = {a.get("id") for a in written}
    stored = Appointment.objects.filter(source__name=SOURCE, deleted=False).exclude(slot_ref="")
    stored = stored.exclude(fhir_id__in=ids)
    rows += [(status, [slot]) for status, slot in stored.values_list("status", "slot_ref")]
    held: set[str] = set()
    freed: Counter = Counter()
    for status, slots in rows:
        for slot in slots:
            if status in ("cancelled", "noshow", "entered-in-error"):
                freed[slot] += 1
            else:
                held.add(slot)
    return held, freed


def _start_matches(start: str, wanted: list[str]) -> bool:
    """The ``start`` search (prefixes ge, gt, le, lt; eq or none: the same instant)."""
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    for value in wanted:
        prefix, rest = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", value)
        bound = datetime.fromisoformat(rest.replace("Z", "+00:00"))
        if bound.tzinfo is None:
            bound = bound.replace(tzinfo=UTC)
        ok = {"ge": moment >= bound, "gt": moment > bound, "le": moment <= bound, "lt": moment < bound,
              "eq": moment == bound}[prefix]  # fmt: skip
        if not ok:
            return False
    return True


def _search(request: HttpRequest, kind: str) -> HttpResponse:
    from .schedule import demo_schedule

    if not settings.DEBUG:
        raise Http404("The simulated EHR runs only in the demo (DEBUG).")
    if not _authorised(request):
        return _outcome(401, "login", "Bearer token of the demo source required.")
    try:
        count = min(int(request.GET.get("_count", "50")), SEARCH_PAGE_MAX)
        offset = int(request.GET.get("_offset", "0"))
        if count < 1 or offset < 0:
            raise ValueError
    except ValueError:
        return _outcome(400, "invalid", "_count and _offset must be positive whole numbers.")
    found = [r for r in demo_schedule(today=datetime.now(UTC).date()) if r["resourceType"] == kind]
    if kind == "Slot":
        held, freed = _slot_holders()
        for slot in found:
            ref = f"Slot/{slot['id']}"
            slot["status"] = "busy" if ref in held else "free"
            slot["meta"] = {"versionId": str(1 + freed[ref])}
        try:
            found = [
                s for s in found
                if (not request.GET.getlist("status") or s["status"] in request.GET.getlist("status"))
                and (not request.GET.get("schedule") or s["schedule"]["reference"].endswith(request.GET["schedule"]))
                and _start_matches(s["start"], request.GET.getlist("start"))
            ]  # fmt: skip
        except ValueError:
            return _outcome(400, "invalid", "start must be a date or an instant, with ge, gt, le or lt.")
    page = found[offset : offset + count]
    base = request.build_absolute_uri(request.path)
    params = {k: v for k, v in request.GET.lists() if k != "_offset"}
    links = [{"relation": "self", "url": f"{base}?{urlencode({**params, '_offset': offset}, doseq=True)}"}]
    if offset + count < len(found):
        following = urlencode({**params, "_offset": offset + count}, doseq=True)
        links.append({"relation": "next", "url": f"{base}?{following}"})
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": len(found), "link": links,
        "entry": [{"fullUrl": f"{base.rsplit('/', 1)[0]}/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in page],
    }  # fmt: skip
    return JsonResponse(bundle, content_type=FHIR_JSON)


def _create_refusal(request: HttpRequest) -> HttpResponse | None:
    if not settings.DEBUG:
        raise Http404("The simulated EHR runs only in the demo (DEBUG).")
    if not _authorised(request):
        return _outcome(401, "login", "Bearer token of the demo source required.")
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return _outcome(400, "invalid", "The body is not JSON.")
    return None if isinstance(body, dict) else _outcome(400, "invalid", "Expected a FHIR resource.")


def _resource(request: HttpRequest, kind: str, fhir_id: str) -> HttpResponse:
    if not settings.DEBUG:
        raise Http404("The simulated EHR runs only in the demo (DEBUG).")
    if not _authorised(request):
        return _outcome(401, "login", "Bearer token of the demo source required.")
    current = _current(kind, fhir_id)
    if current is None:
        return _outcome(404, "not-found", f"{kind}/{fhir_id} is not known to the simulated EHR.")
    if request.method == "GET":
        return _answer(current)
    return _update(request, kind, fhir_id, current)


def _update(request: HttpRequest, kind: str, fhir_id: str, current: dict) -> HttpResponse:
    try:
        body: Any = json.loads(request.body or b"null")
    except ValueError:
        return _outcome(400, "invalid", "The body is not JSON.")
    if not isinstance(body, dict) or body.get("resourceType") != kind or body.get("id") != fhir_id:
        return _outcome(400, "invalid", f"Expected a {kind} with id {fhir_id}.")
    version = str(current["meta"]["versionId"])
    if request.headers.get("If-Match", "").strip() not in ("", f'W/"{version}"', f'"{version}"'):
        return _outcome(412, "conflict", f"{kind}/{fhir_id} is at version {version}.")
    if fhir_id.startswith("clinops-") and version.isdigit():
        # Made here (a booking): versioned as an EHR does, so clinops's store takes the new version.
        new_version = str(int(version) + 1)
    else:
        new_version = f"{version.split('-clinops-')[0]}-clinops-{int(version.partition('-clinops-')[2] or 0) + 1}"
    updated = {**body, "meta": {**(body.get("meta") or {}), "versionId": new_version}}
    with _lock:
        if (kind, fhir_id) in _written and _written[(kind, fhir_id)]["meta"]["versionId"] != version:
            return _outcome(412, "conflict", f"{kind}/{fhir_id} changed meanwhile.")
        _written[(kind, fhir_id)] = updated
    return _answer(updated)
