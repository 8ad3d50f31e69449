"""The go-live readiness checklist of one rollout switch (a workflow at a site and service line),
computed each time from the facts it names; each item says what is wrong and links to the page
that fixes it. "Live" is refused while any item is red (``services.rollout_phase_set``)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.core.selectors import site_members
from apps.ehr.selectors import dead_letters_open
from apps.intake.selectors import intake_site_source_id
from apps.kpis.scope import local_bounds
from apps.kpis.sql import ts_param
from apps.referrals.selectors import referral_sources_for_site, specialties_uncovered
from apps.terminology.selectors import unmapped_open_for
from apps.workflow.registry import workflow_model
from apps.workflow.selectors import TRANSITION_LOG_SQL, site_calendar_set

from .models import Duty, RolloutSwitch, Workflow, WorkflowOwner

SPECIALTY_WINDOW = timedelta(days=30)
PILOT_MIN_DAYS = 14  # a pilot shorter than two weeks is not compared with its baseline
CLINICIAN_PERMISSION = "core.review_results"


@dataclass(frozen=True)
class Check:
    key: str
    label: str  # what must hold, in plain words
    ok: bool
    detail: str  # what was found
    fix_url: str = ""
    fix_label: str = ""


def _sources(site_id: int) -> set[int]:
    sources = referral_sources_for_site(site_id=site_id)
    if (intake_source := intake_site_source_id(site_id=site_id)) is not None:
        sources.add(intake_source)
    return sources


def items_between(switch: RolloutSwitch, start: datetime, end: datetime) -> int:
    """Work items of the switch's workflow, site (and service line) with log entries in [start, end)."""
    ts = ts_param()
    sql = (
        f"SELECT COUNT(DISTINCT t.item_id) FROM {TRANSITION_LOG_SQL} t "  # noqa: S608 - a relation from the model
        f"WHERE t.workflow = %s AND t.site_id = %s AND t.at >= {ts} AND t.at < {ts}"
    )
    params: list[Any] = [switch.workflow, switch.site_id, start, end]
    if switch.service_line_id:
        sql += " AND t.service_line_id = %s"
        params.append(switch.service_line_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def _plain_code(code: str) -> str:
    # "system|code" as the EHR sent it: staff read the code, never the system's address.
    return code.rsplit("|", 1)[-1]


def _routes(switch: RolloutSwitch) -> Check:
    label = "Routes cover the specialties seen in the last 30 days"
    if switch.workflow != Workflow.REFERRAL:
        return Check("routes", label, True, "Not needed: this workflow does not route by specialty.")
    since = timezone.now() - SPECIALTY_WINDOW
    missing = specialties_uncovered(site_id=switch.site_id, service_line_id=switch.service_line_id, since=since)
    if not missing:
        return Check("routes", label, True, "Every specialty referred here in the last 30 days has a route.")
    shown = ", ".join(
        f"{display} ({_plain_code(code)})" if display else _plain_code(code) for code, display in missing[:8]
    )
    shown += " and more" if len(missing) > 8 else ""
    return Check(
        "routes",
        label,
        False,
        f"No route names {len(missing)} specialt{'y' if len(missing) == 1 else 'ies'}: {shown}.",
        reverse("admin:referrals_referralroute_add"),
        "Add a referral route",
    )


def _unmapped(switch: RolloutSwitch, sources: set[int]) -> Check:
    label = "No code waits for a mapping"
    codes = unmapped_open_for(site_id=switch.site_id, source_ids=sources)
    if not codes:
        return Check("unmapped", label, True, "No open unmapped code from this site's EHR feeds.")
    return Check(
        "unmapped",
        label,
        False,
        f"{len(codes)} code{'s' if len(codes) != 1 else ''} from this site's feeds wait for a mapping.",
        reverse("admin:terminology_unmappedcode_changelist"),
        "Map the waiting codes",
    )


def _calendar(switch: RolloutSwitch) -> Check:
    label = "Opening hours are set"
    if site_calendar_set(site_id=switch.site_id):
        return Check("calendar", label, True, "The site's opening hours are set, so due times count working hours.")
    return Check(
        "calendar",
        label,
        False,
        "The site has no opening hours of its own: due times would use the default hours.",
        reverse("admin:workflow_sitecalendar_add"),
        "Set the site's opening hours",
    )


def _coverage(switch: RolloutSwitch) -> Check:
    label = "Staff cover the work"
    model = workflow_model(switch.workflow)
    workers = site_members(site_id=switch.site_id, permission=model.WORK_PERMISSION).count()
    missing = []
    if not workers:
        missing.append("nobody at the site works this list")
    if (
        switch.workflow == Workflow.RESULT
        and not site_members(site_id=switch.site_id, permission=CLINICIAN_PERMISSION).exists()
    ):
        missing.append("no clinician at the site reviews results")
    if not missing:
        return Check("coverage", label, True, f"{workers} member{'s' if workers != 1 else ''} of staff work this list.")
    return Check(
        "coverage",
        label,
        False,
        "; ".join(missing).capitalize() + ".",
        reverse("admin:core_user_changelist"),
        "Add staff to the site",
    )


def _owners(switch: RolloutSwitch) -> Check:
    label = "Owners are named"
    named = set(
        WorkflowOwner.objects.filter(site_id=switch.site_id, workflow=switch.workflow).values_list("duty", flat=True)
    )
    missing = [Duty(d).label for d in Duty.values if d not in named]
    fix = reverse("governance:owners", args=[switch.site.code]) + f"?workflow={switch.workflow}"
    if not missing:
        return Check("owners", label, True, "Every duty has a named owner.", fix, "See the owners")
    return Check("owners", label, False, "No owner named for: " + ", ".join(missing) + ".", fix, "Name the owners")


def _dead_letters(sources: set[int]) -> Check:
    label = "No EHR message is stuck"
    dead = dead_letters_open(source_ids=sources)
    if not dead:
        return Check("dead_letters", label, True, "No failed message from this site's EHR feeds waits for a retry.")
    return Check(
        "dead_letters",
        label,
        False,
        f"{dead} failed message{'s wait' if dead != 1 else ' waits'} from this site's feeds for a retry.",
        reverse("ehr:inbox_list") + "?status=dead",
        "Retry the failed messages",
    )


def _rollout_page(switch: RolloutSwitch, anchor: str) -> str:
    query = f"?service_line={switch.service_line.code}" if switch.service_line else ""
    return reverse("governance:rollout_detail", args=[switch.site.code, switch.workflow]) + query + anchor


def baseline_items(switch: RolloutSwitch) -> int:
    """Work items logged in the switch's baseline period (0 when none is set)."""
    if not (switch.baseline_start and switch.baseline_end):
        return 0
    return items_between(switch, *local_bounds(switch.baseline_start, switch.baseline_end, switch.site.timezone))


def _baseline(switch: RolloutSwitch, n: int) -> Check:
    label = "A baseline period is captured"
    fix = _rollout_page(switch, "#baseline")
    if not (switch.baseline_start and switch.baseline_end):
        return Check("baseline", label, False, "No baseline period is set.", fix, "Capture a baseline period")
    if not n:
        return Check(
            "baseline", label, False, "The baseline period has no work items to compare with.", fix,
            "Choose another baseline period",
        )  # fmt: skip
    return Check("baseline", label, True, f"{n} work items in the baseline period.", fix, "Change the baseline")


def _comparison(switch: RolloutSwitch, baseline_n: int) -> Check:
    label = "The pilot can be compared with the baseline"
    if switch.pilot_started_at is None:
        return Check(
            "comparison", label, False, "The pilot has not started.", _rollout_page(switch, "#phase"), "Start the pilot"
        )
    days = (timezone.now() - switch.pilot_started_at).days
    if days < PILOT_MIN_DAYS:
        return Check(
            "comparison",
            label,
            False,
            f"The pilot has run {days} day{'s' if days != 1 else ''}; compare after {PILOT_MIN_DAYS}.",
            _rollout_page(switch, "#phase"),
            "See the pilot",
        )
    n = items_between(switch, switch.pilot_started_at, timezone.now())
    if not n or not baseline_n or switch.baseline_start is None or switch.baseline_end is None:
        return Check(
            "comparison",
            label,
            False,
            "The pilot or its baseline has no work items yet.",
            _rollout_page(switch, "#baseline"),
            "Check the baseline",
        )
    zone = switch.site.tzinfo
    query = {
        "site": switch.site.code,
        "start": switch.pilot_started_at.astimezone(zone).date().isoformat(),
        "end": timezone.now().astimezone(zone).date().isoformat(),
        "compare": "period",
        "base_start": switch.baseline_start.isoformat(),
        "base_end": switch.baseline_end.isoformat(),
    }
    if switch.service_line:
        query["service_line"] = switch.service_line.code
    return Check(
        "comparison",
        label,
        True,
        f"{n} work items in the pilot so far.",
        reverse("kpis:scorecard") + "?" + urlencode(query),
        "Open the comparison",
    )


def readiness_get(switch: RolloutSwitch) -> list[Check]:
    """Every readiness item of the switch, in the order a site works through them."""
    sources = _sources(switch.site_id)
    baseline_n = baseline_items(switch)
    return [
        _routes(switch),
        _unmapped(switch, sources),
        _calendar(switch),
        _coverage(switch),
        _owners(switch),
        _dead_letters(sources),
        _baseline(switch, baseline_n),
        _comparison(switch, baseline_n),
    ]
