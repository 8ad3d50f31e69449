"""Break-glass emergency access and the audit report."""

import io
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
from .access_log import access_log, access_log_many
from .emergency import EMERGENCY_PERMISSION, emergency_grant_list, emergency_grant_open
from .models import AccessLog, EmergencyGrant


@require_http_methods(["GET", "POST"])
@permission_required(EMERGENCY_PERMISSION, raise_exception=True)
def emergency_request(request: HttpRequest) -> HttpResponse:
    """Break the glass for one patient: the reference and a reason in a POST body, never in a URL."""
    errors: list[str] = []
    if request.method == "POST":
        try:
            grant = emergency_grant_open(
                user=request.user, patient=request.POST.get("patient", ""), reason=request.POST.get("reason", "")
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
    active = EmergencyGrant.objects.filter(user=request.user, expires_at__gt=timezone.now())
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


@require_GET
@permission_required("core.view_audit_report", raise_exception=True)
def audit_report_view(request: HttpRequest) -> HttpResponse:
    """Compliance officers: access and changes by user, patient, action and period; CSV export."""
    form = audit_report.AuditReportForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {"kind": "access", "sort": "-at"}
    if form.is_bound and not form.is_valid():
        return render(request, "core/audit_report.html", {"form": form, "rows": []}, status=400)
    # Reading the audit trail is itself an access to patient data: logged like any other.
    action = AccessLog.Action.EXPORT if request.GET.get("format") == "csv" else AccessLog.Action.SEARCH
    access_log(
        request, patient=data.get("patient") or "*", what=f"audit-report:{data.get('kind') or 'access'}", action=action
    )
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
    params = {k: v for k, v in request.GET.items() if k not in ("page", "sort", "format")}
    current_sort = data.get("sort") or "-at"
    sort_links = {
        key: "?" + urlencode({**params, "sort": key if current_sort != key else f"-{key}"})
        for key in ("at", "user", "action", "patient")
    }
    context = {
        "form": form,
        "rows": rows[: audit_report.PAGE_SIZE],
        "page": page,
        "more": len(rows) > audit_report.PAGE_SIZE,
        "sort": current_sort,
        "sort_links": sort_links,
        "csv_url": "?" + urlencode({**params, "sort": current_sort, "format": "csv"}),
        "next_url": "?" + urlencode({**params, "sort": current_sort, "page": page + 1}),
        "prev_url": "?" + urlencode({**params, "sort": current_sort, "page": page - 1}),
        "kind": data.get("kind") or "access",
    }
    return render(request, "core/audit_report.html", context)
