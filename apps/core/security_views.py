"""Break-glass emergency access and the audit report."""

import io
from typing import cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from . import audit_report
from .access_log import access_log_many
from .emergency import EMERGENCY_PERMISSION, emergency_grant_list, emergency_grant_open
from .models import AccessLog, EmergencyGrant, User
from .scoping import sites_for


@require_http_methods(["GET", "POST"])
@permission_required(EMERGENCY_PERMISSION, raise_exception=True)
def emergency_request(request: HttpRequest) -> HttpResponse:
    """Break the glass for one patient: the reference and a reason in a POST body, never in a URL."""
    errors: list[str] = []
    if request.method == "POST":
        try:
            grant = emergency_grant_open(
                user=cast(User, request.user),
                patient=request.POST.get("patient", ""),
                reason=request.POST.get("reason", ""),
            )
        except ValidationError as error:
            errors = error.messages
        else:
            until = timezone.localtime(grant.expires_at).strftime("%H:%M")
            messages.warning(
                request,
                f"Emergency access open until {until}. The patient's items now show in your worklists; "
                "every view is logged as emergency access and reviewed by supervisors.",
            )
            return HttpResponseRedirect(reverse("core:emergency_request"))
    active = EmergencyGrant.objects.filter(user=cast(User, request.user), expires_at__gt=timezone.now())
    context = {
        "errors": errors,
        "patient": request.POST.get("patient", ""),
        "reason": request.POST.get("reason", ""),
        "active": active,
        "grant_minutes": settings.CLINOPS_EMERGENCY_GRANT_MINUTES,
    }
    return render(request, "core/emergency_request.html", context, status=400 if errors else 200)


@require_GET
@permission_required("core.review_emergency_access", raise_exception=True)
def emergency_review(request: HttpRequest) -> HttpResponse:
    """Supervisors: every break-glass grant of the last 30 days, who, which patient, why, views made."""
    grants = list(emergency_grant_list()[:500])
    access_log_many(
        request, entries=[(g.patient, f"emergency-grant:{g.pk}") for g in grants], action=AccessLog.Action.LIST
    )
    return render(request, "core/emergency_review.html", {"grants": grants, "now": timezone.now()})


AUDIT_FILTERS_SESSION_KEY = "clinops_audit_report_filters"
AUDIT_FILTER_FIELDS = ("kind", "user", "patient", "action", "date_from", "date_to", "emergency")


@require_http_methods(["GET", "POST"])
@permission_required("core.view_audit_report", raise_exception=True)
def audit_report_view(request: HttpRequest) -> HttpResponse:
    """Compliance officers: access and changes by user, patient, action and period; CSV export.

    The filters are POSTed and kept in the session, so a patient reference never reaches a URL
    (browser history, proxy logs); the URL carries only the sort, the page and the format.
    """
    if request.method == "POST":
        form = audit_report.AuditReportForm(request.POST)
        if not form.is_valid():
            return render(request, "core/audit_report.html", {"form": form, "rows": []}, status=400)
        request.session[AUDIT_FILTERS_SESSION_KEY] = {k: request.POST.get(k, "") for k in AUDIT_FILTER_FIELDS}
        return HttpResponseRedirect(reverse("core:audit_report"))
    stored = request.session.get(AUDIT_FILTERS_SESSION_KEY) or {"kind": "access"}
    form = audit_report.AuditReportForm({**stored, "sort": request.GET.get("sort", "-at")})
    if not form.is_valid():
        return render(request, "core/audit_report.html", {"form": form, "rows": []}, status=400)
    data = form.cleaned_data
    # Reading the audit trail is itself an access to patient data: logged like any other, once
    # per patient the search found (or "*": every patient).
    action = AccessLog.Action.EXPORT if request.GET.get("format") == "csv" else AccessLog.Action.SEARCH
    kind = data.get("kind") or "access"
    patients = data.get("patients") or ["*"]
    access_log_many(request, entries=[(ref, f"audit-report:{kind}") for ref in patients], action=action)
    if action == AccessLog.Action.EXPORT:
        out = io.StringIO()
        audit_report.report_csv(data, out)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="clinops-audit.csv"'
        return response
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    rows = audit_report.report_rows(data, limit=audit_report.PAGE_SIZE + 1, offset=(page - 1) * audit_report.PAGE_SIZE)
    sort = data.get("sort") or "-at"
    context = {
        "form": form,
        "rows": rows[: audit_report.PAGE_SIZE],
        "page": page,
        "more": len(rows) > audit_report.PAGE_SIZE,
        "sort": sort,
        "sort_links": {
            key: "?" + urlencode({"sort": key if sort != key else f"-{key}"})
            for key in ("at", "user", "action", "patient")
        },
        "csv_url": "?" + urlencode({"sort": sort, "format": "csv"}),
        "patient_matches": form.patient_matches,
        # Times are shown in the viewer's (first) site's time zone (SiteTimezoneMiddleware);
        # someone who belongs to no site sees UTC, and the page says which.
        "time_zone": timezone.get_current_timezone_name(),
        "time_zone_is_a_site": sites_for(request.user).exists(),
        "next_url": "?" + urlencode({"sort": sort, "page": page + 1}),
        "prev_url": "?" + urlencode({"sort": sort, "page": page - 1}),
        "kind": kind,
    }
    return render(request, "core/audit_report.html", context)
