"""The access matrix: for every URL, what each role gets at its own site and at another.

Every app adds a row for each URL it serves; ``test_every_url_is_in_the_matrix`` fails when a
URL has no row. A row lists the answer per role (``anonymous`` included) for a request made
at one of the user's own sites; for site-scoped URLs ``other_site`` is the answer for a site
the user is not a member of (a patient's data there must be invisible: 404, never 200).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.core.roles import Role
from apps.referrals.workflow import State
from apps.results.workflow import FollowUp
from apps.results.workflow import State as ResultState
from tests.plugins.ehr_messages import matrix_inbox_kwargs, matrix_outbox_kwargs
from tests.plugins.ehr_store import matrix_read_kwargs
from tests.plugins.intake import matrix_act, matrix_check, matrix_claimed_intake, matrix_intake
from tests.plugins.referrals import (
    OVERDUE,
    matrix_action,
    matrix_attachment,
    matrix_offer,
    matrix_patient,
    matrix_referral,
    matrix_saved_view,
)
from tests.plugins.results import matrix_claimed_result, matrix_coverage, matrix_result
from tests.plugins.terminology import matrix_map, matrix_unmapped, matrix_version


def matrix_hl7_kwargs(site: Any) -> dict[str, Any]:
    """A stored HL7 v2 message (v2 messages belong to a source, not a site)."""
    from apps.ehr.models import Hl7Message, InboxEnvelope
    from tests.plugins.ehr_messages import source_make

    source = source_make("matrix-hl7")
    envelope = InboxEnvelope.objects.create(source=source, sha256="0" * 64, correlation_id="m", raw=b"MSH|^~\\&|\r")
    row = Hl7Message.objects.create(
        source=source, envelope=envelope, dedupe_key=envelope.sha256[:60] + str(envelope.pk), channel="http",
        status=Hl7Message.Status.ERROR, ack_code="AE", ack="MSH|^~\\&|\rMSA|AE|\r",
    )  # fmt: skip
    return {"pk": row.pk}


def matrix_hl7_app_ack_kwargs(site: Any) -> dict[str, Any]:
    """A stored HL7 v2 message whose application ACK could not be sent."""
    from apps.ehr.models import Hl7AppAck, Hl7Message

    kwargs = matrix_hl7_kwargs(site)
    message = Hl7Message.objects.get(pk=kwargs["pk"])
    Hl7AppAck.objects.create(message=message, source=message.source, ack="MSH|^~\\&|\rMSA|AE|\r", ack_code="AE",
                             status=Hl7AppAck.Status.DEAD)  # fmt: skip
    return kwargs


def matrix_friction(site: Any) -> dict[str, Any]:
    """A friction report at the site by a scheduler who is not the matrix's own scheduler."""
    from apps.governance.models import FrictionReport
    from tests.plugins.core import UserFactory

    reporter = UserFactory(role=Role.SCHEDULER, sites=[site])
    return {"pk": FrictionReport.objects.create(reporter=reporter, site=site, workflow="referral", note="Slow").pk}


ANON = "anonymous"
ROLES = (ANON, *Role.ALL)
STAFF = {Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN}
WORKERS = {Role.SCHEDULER, Role.SUPERVISOR}
RESULT_WORKERS = {Role.MEDICAL_ASSISTANT, Role.SUPERVISOR}
RESULT_VIEWERS = {Role.CLINICIAN, *RESULT_WORKERS}
INTAKE_WORKERS = {Role.MEDICAL_ASSISTANT, Role.SUPERVISOR}
MANAGERS = {Role.SUPERVISOR, Role.LEADER}
ROLLOUT = lambda site: {"site": site.code, "workflow": "referral"}  # noqa: E731
PATIENT_VIEWERS = {Role.SCHEDULER, Role.MEDICAL_ASSISTANT, Role.CLINICIAN, Role.SUPERVISOR}


def every(status: int, **overrides: int) -> dict[str, int]:
    """The same status for every signed-in role, anonymous redirected to login, unless overridden."""
    answer = dict.fromkeys(Role.ALL, status)
    answer[ANON] = 302
    answer.update(overrides)
    return answer


@dataclass(frozen=True)
class Row:
    name: str  # URL name, with namespace
    expected: dict[str, int]
    method: str = "get"
    # Builds the URL kwargs for a site (and whatever objects the URL needs there); None when
    # the URL is not site-scoped.
    kwargs: Callable[[Any], dict[str, Any]] | None = None
    other_site: int = 404
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False

    @property
    def site_scoped(self) -> bool:
        return self.kwargs is not None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


ROWS: list[Row] = [
    Row("login", {**every(302), ANON: 200}),
    Row("logout", every(302, anonymous=302), method="post"),
    Row("healthz", every(200, anonymous=200)),
    # The simulated EHR (apps/demo/ehr_server.py) exists only with DEBUG on (tests run with it off).
    Row("demo:ehr-task", every(404, anonymous=404), kwargs=lambda site: {"fhir_id": "t1"}, other_site=404),
    Row("demo:ehr-appointment", every(404, anonymous=404), kwargs=lambda site: {"fhir_id": "a1"}, other_site=404),
    Row("demo:ehr-appointment-create", every(404, anonymous=404), method="post"),
    Row("demo:ehr-communication-create", every(404, anonymous=404), method="post"),
    Row("demo:ehr-schedule-search", every(404, anonymous=404)),
    Row("demo:ehr-slot-search", every(404, anonymous=404)),
    Row("admin:index", every(302, **dict.fromkeys(STAFF, 200))),
    Row("api-schema", every(200, anonymous=401), api=True),
    Row("core-api:me", every(200, anonymous=401), api=True),
    Row("core:home", every(200, leader=302, integration_admin=302)),
    Row("core:sites", every(200)),
    # The "my work" home at / (workflow:home reverses to the same URL as core:home): leaders are
    # sent to the scorecard, integration admins to the console. "Next item" always redirects (to
    # an item, or home with a message). Patient search and the patient page: roles that see
    # patients; a patient with no item at the user's sites is not found (404). A search is POSTed
    # (then shown by a GET); an empty one is a form error (400).
    Row("workflow:home", every(200, leader=302, integration_admin=302)),
    Row("workflow:next_item", every(302)),
    *[
        Row(name, every(403, **dict.fromkeys(PATIENT_VIEWERS, status)), method=method, kwargs=kwargs, data=data or {})
        for name, status, method, kwargs, data in [
            ("workflow:patient_search", 200, "get", None, None),
            ("workflow:patient_search", 302, "post", None, {"name": "Doe"}),
            ("workflow:patient_search", 400, "post", None, {"name": ""}),
            ("workflow:patient_detail", 200, "get", matrix_patient, None),
        ]
    ],
    # Entering by hand: a fax or phone referral (schedulers, supervisors), a walk-in (MAs,
    # supervisors). A patient choice that is not the user's own search's sends back to step 1 (302).
    # The referral's PDF: like the referral (another site's is 404).
    *[
        Row(name, every(403, **dict.fromkeys(workers, status)), method=method, kwargs=kwargs, data=data or {})
        for name, workers, status, method, kwargs, data in [
            ("referrals:enter", WORKERS, 200, "get", None, None),
            ("referrals:enter", WORKERS, 302, "post", None, {"patient": "forged"}),
            ("referrals:attachment", WORKERS, 200, "get", matrix_attachment, None),
            ("intake:walk_in", INTAKE_WORKERS, 200, "get", None, None),
            ("intake:walk_in", INTAKE_WORKERS, 302, "post", None, {"patient": "forged"}),
        ]
    ],
    Row("core:site_detail", every(200), kwargs=lambda site: {"code": site.code}),
    # MFA pages (a user in the matrix has no authenticator yet): setting up is open to all,
    # the code step and new recovery codes send to setup, and only roles that do not need MFA
    # may turn it off. Break-glass and the audit report belong to groups, not roles
    # (apps.core.roles EMERGENCY_GROUP, COMPLIANCE_GROUP; apps/core/tests/test_security_pages.py).
    Row("core:mfa_settings", every(200)),
    Row("core:mfa_setup", every(200)),
    Row("core:mfa_verify", every(302)),
    Row("core:mfa_recovery_codes", every(302), method="post"),
    Row(
        "core:mfa_turn_off",
        every(302, **dict.fromkeys([Role.SUPERVISOR, Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN], 403)),
        method="post",
    ),
    # Notifications: every user sees only their own; a notification id that is not theirs is 404.
    Row("notifications:list", every(200)),
    Row("notifications:count", every(200)),
    Row("notifications:read_all", every(302), method="post"),
    Row("notifications:preferences", every(200)),
    Row("notifications:preferences", every(302), method="post", data={"item_escalated.email": "on"}),
    Row("notifications:open", every(404), kwargs=lambda site: {"pk": 987654}),
    # Reminder choices on the patient page (roles that see patients; another site's patient: 404).
    Row(
        "notifications:patient_opt_out",
        every(403, **dict.fromkeys(PATIENT_VIEWERS, 302)),
        method="post",
        kwargs=matrix_patient,
        data={"channel": ["email", "sms"]},
    ),
    # A patient's reminder links: public pages, no sign-in, gated by the signed link alone. Anyone,
    # signed in or not, gets 404 for a token that is not one of our links (410 for a spent or
    # expired one, and what each does: apps/notifications/tests/test_patient_pages.py). No site:
    # the link names the visit.
    *[
        Row(f"patient:{name}", every(404, anonymous=404), method=method, kwargs=lambda site: {"token": "x:y:z"})
        for name in ("confirm", "cancel", "questionnaire", "stop_email", "stop_sms")
        for method in ("get", "post")
    ],
    # API keys: every user manages their own; a key id that is not theirs is 404.
    Row("core:api_tokens", every(200)),
    Row("core:api_tokens", every(302), method="post"),
    Row("core:api_token_revoke", every(404), method="post", kwargs=lambda site: {"pk": 987654}),
    Row("core:emergency_request", every(403)),
    Row("core:emergency_review", every(403, supervisor=200)),
    Row("core:audit_report", every(403)),
    Row("core:audit_report", every(403), method="post"),
    # The EHR's webhook authenticates by the source's bearer token, never by a session.
    Row(
        "ehr-webhook",
        every(401, anonymous=401),
        method="post",
        kwargs=lambda site: {"source": "no-such-source"},
        other_site=401,
    ),
    # HL7 v2 over HTTP: the same token as the FHIR webhook, never a session.
    Row(
        "ehr:hl7v2_receive",
        every(401, anonymous=401),
        method="post",
        kwargs=lambda site: {"source": "no-such-source"},
        other_site=401,
    ),
    # The FHIR read API: integration roles only. The store has no site, so the answer is the
    # same at any site (other_site=200), and an unknown path is a 404 OperationOutcome.
    Row("fhir:metadata", every(403, anonymous=401, integration_admin=200), api=True),
    Row(
        "fhir:search",
        every(403, anonymous=401, integration_admin=200),
        kwargs=lambda site: {"resource_type": "Observation"},
        other_site=200,
        api=True,
    ),
    Row(
        "fhir:read",
        every(403, anonymous=401, integration_admin=200),
        kwargs=matrix_read_kwargs,
        other_site=200,
        api=True,
    ),
    Row(
        "fhir:unsupported",
        every(403, anonymous=401, integration_admin=404),
        kwargs=lambda site: {"rest": "Patient/1/_history/1"},
        api=True,
    ),
    # The integration console: integration admins only. Messages belong to an EHR source, not
    # a site, so a detail answers the same at any site (other_site=200). An empty selection is
    # a valid POST (redirect back with a notice); a replay without "confirm" shows the count.
    Row("ehr:console", every(403, integration_admin=200)),
    Row("ehr:inbox_list", every(403, integration_admin=200)),
    Row("ehr:inbox_detail", every(403, integration_admin=200), kwargs=matrix_inbox_kwargs, other_site=200),
    Row("ehr:inbox_retry", every(403, integration_admin=302), method="post"),
    Row("ehr:inbox_replay", every(403, integration_admin=200), method="post"),
    Row(
        "ehr:inbox_hold",
        every(403, integration_admin=302),
        method="post",
        kwargs=matrix_inbox_kwargs,
        other_site=302,
        data={"hold": "1"},
    ),
    Row("ehr:hl7_list", every(403, integration_admin=200)),
    Row("ehr:hl7_detail", every(403, integration_admin=200), kwargs=matrix_hl7_kwargs, other_site=200),
    Row("ehr:hl7_replay", every(403, integration_admin=302), method="post", kwargs=matrix_hl7_kwargs, other_site=302),
    Row(
        "ehr:hl7_app_ack_send",
        every(403, integration_admin=302),
        method="post",
        kwargs=matrix_hl7_app_ack_kwargs,
        other_site=302,
    ),
    Row("ehr:outbox_list", every(403, integration_admin=200)),
    Row("ehr:outbox_detail", every(403, integration_admin=200), kwargs=matrix_outbox_kwargs, other_site=200),
    Row("ehr:outbox_retry", every(403, integration_admin=302), method="post"),
    # Referrals: schedulers and supervisors work them (everyone else 403); an item at a site the
    # user is not a member of is 404. POSTs without JavaScript redirect back (302). Releasing a
    # colleague's claim, bulk actions, reassign and move are for supervisors. A saved view of
    # someone else is "not found" for everyone.
    *[
        Row(name, every(403, **dict.fromkeys(WORKERS, status)), method=method, kwargs=kwargs, data=data or {})
        for name, status, method, kwargs, data in [
            ("referrals:worklist", 200, "get", None, None),
            ("referrals:counts", 200, "get", None, None),
            ("referrals:detail", 200, "get", matrix_referral(), None),
            ("referrals:claim", 302, "post", matrix_referral(), None),
            ("referrals:act", 302, "post", matrix_action("triage"), None),
            ("referrals:outreach", 302, "post", matrix_referral(), {"channel": "phone", "outcome": "no_answer"}),
            ("referrals:note", 302, "post", matrix_referral(), {"text": "Called the GP"}),
            ("referrals:slots", 200, "get", matrix_referral(), None),
            ("referrals:book", 302, "post", matrix_referral(), {"slot": "Slot/none", "channel": "phone"}),
            ("referrals:wait_list", 302, "post", matrix_referral(), None),
            ("referrals:offers", 200, "get", None, None),
            ("referrals:offer_accept", 302, "post", matrix_offer, {"channel": "phone"}),
            ("referrals:offer_decline", 302, "post", matrix_offer, None),
            ("referrals:view_save", 302, "post", None, {"name": "Mine"}),
            ("referrals:view_delete", 404, "post", matrix_saved_view, None),
        ]
    ],
    Row("referrals:release", every(403, supervisor=302), method="post", kwargs=matrix_referral(claimed=True)),
    Row("referrals:bulk", every(403, supervisor=302), method="post"),
    # The referral API: the same rule, 401 without credentials; an action's answer is 200
    # (201 for outreach and notes) when the referral is in a state that allows it.
    *[
        Row(
            f"referrals-api:{name}",
            every(403, anonymous=401, **dict.fromkeys(WORKERS, status)),
            method=method,
            kwargs=kwargs,
            data=data or {},
            api=True,
        )
        for name, status, method, kwargs, data in [
            ("list", 200, "get", None, None),
            ("detail", 200, "get", matrix_referral(), None),
            ("claim", 200, "post", matrix_referral(), None),
            ("triage", 200, "post", matrix_referral(), None),
            ("accept", 200, "post", matrix_referral(state=State.TRIAGE), None),
            ("request_auth", 200, "post", matrix_referral(state=State.ACCEPTED), None),
            ("authorize", 200, "post", matrix_referral(state=State.PENDING_AUTH), None),
            ("start_scheduling", 200, "post", matrix_referral(state=State.ACCEPTED), None),
            ("request_info", 200, "post", matrix_referral(), {"question": "Latest echo?"}),
            ("receive_info", 200, "post", matrix_referral(state=State.NEEDS_INFO), None),
            ("decline", 200, "post", matrix_referral(), {"reason_code": "no-capacity"}),
            ("cancel", 200, "post", matrix_referral(), {"reason": "Patient moved away"}),
            ("abandon", 200, "post", matrix_referral(state=State.SCHEDULING, **OVERDUE), None),
            (
                "forward",
                200,
                "post",
                matrix_referral(service_line=True),
                {"service_line": "matrix-line", "reason": "r"},
            ),
            ("outreach", 201, "post", matrix_referral(), {"channel": "phone", "outcome": "no_answer"}),
            ("notes", 201, "post", matrix_referral(), {"text": "Called the GP"}),
        ]
    ],
    Row(
        "referrals-api:release",
        every(403, anonymous=401, supervisor=200),
        method="post",
        kwargs=matrix_referral(claimed=True),
        api=True,
    ),
    Row(
        "referrals-api:reassign",
        every(403, anonymous=401, supervisor=200),
        method="post",
        kwargs=matrix_referral(),
        data={"assignee": ""},
        api=True,
    ),
    Row(
        "referrals-api:move",
        every(403, anonymous=401, supervisor=200),
        method="post",
        kwargs=matrix_referral(),
        data={"queue": "supervisor"},  # a queue that fits a received referral (another is a 409)
        api=True,
    ),
    # KPI scorecards: leaders and supervisors (view_aggregates); the items behind a number
    # (patients) only for supervisors, who also see patients. KPIs are not site objects: the
    # answer is the same whichever site the row is built for (other_site=200).
    Row("kpis:scorecard", every(403, leader=200, supervisor=200)),
    Row("kpis:export", every(403, leader=200, supervisor=200)),
    Row(
        "kpis:detail",
        every(403, leader=200, supervisor=200),
        kwargs=lambda site: {"key": "referral_triage_median"},
        other_site=200,
    ),
    # A site's targets: leaders and supervisors read them (their own sites; another site is 404),
    # leaders set them (POST redirects back with a message).
    Row("kpis:targets", every(403, leader=200, supervisor=200), kwargs=lambda site: {"site": site.code}),
    Row(
        "kpis:targets",
        every(403, leader=302),
        method="post",
        kwargs=lambda site: {"site": site.code},
        data={"t_referral_triage_median": "20"},
    ),
    Row("kpis:minutes", every(403, leader=200, supervisor=200), kwargs=lambda site: {"site": site.code}),
    Row(
        "kpis:minutes",
        every(403, leader=302),
        method="post",
        kwargs=lambda site: {"site": site.code},
        data={"m_referral_triage": "7"},
    ),
    Row("kpis:staffing", every(403, leader=200, supervisor=200), kwargs=lambda site: {"site": site.code}),
    Row(
        "kpis:staffing",
        every(403, leader=302),
        method="post",
        kwargs=lambda site: {"site": site.code},
        data={"standing": "400", "per_hour": "38.50"},
    ),
    Row(
        "kpis:items_csv",
        every(403, supervisor=200),
        kwargs=lambda site: {"key": "referral_triage_median"},
        other_site=200,
    ),
    # Governance. Owners, the rollout switch and its checklist, the workarounds: supervisors and
    # leaders (view_aggregates) at their own sites (another site is 404); only supervisors run the
    # rules on demand. Anyone signed in reports friction (the report goes back to its page: 302) and
    # reads their own reports; a report is seen by its reporter and handled by the site's
    # supervisors and the workflow owners (nobody else even learns it exists: 404).
    *[
        Row(name, every(403, **dict.fromkeys(who, status)), method=method, kwargs=kwargs, data=data or {})
        for name, who, status, method, kwargs, data in [
            ("governance:owners", MANAGERS, 200, "get", lambda site: {"site": site.code}, None),
            ("governance:owners", MANAGERS, 302, "post", lambda site: {"site": site.code}, {"workflow": "referral"}),
            ("governance:rollout", MANAGERS, 200, "get", None, None),
            ("governance:rollout_detail", MANAGERS, 200, "get", ROLLOUT, None),
            ("governance:rollout_phase", MANAGERS, 302, "post", ROLLOUT, {"phase": "pilot"}),
            (
                "governance:rollout_baseline",
                MANAGERS,
                302,
                "post",
                ROLLOUT,
                {"start": "2026-01-01", "end": "2026-01-31"},
            ),
            ("governance:workarounds", MANAGERS, 200, "get", None, None),
            ("governance:workarounds_detect", {Role.SUPERVISOR}, 302, "post", None, None),
            ("governance:friction_queue", {Role.SUPERVISOR}, 200, "get", None, None),
        ]
    ],
    Row("governance:friction_new", every(302), method="post", data={"note": "Slow", "workflow": "referral"}),
    Row("governance:friction_mine", every(200)),
    Row("governance:friction_detail", every(404, supervisor=200), kwargs=matrix_friction),
    Row(
        "governance:friction_detail",
        every(404, supervisor=302),
        method="post",
        kwargs=matrix_friction,
        data={"status": "acknowledged"},
    ),
    # Results: clinicians review (inbox, review, take, acknowledge, cover); MAs and supervisors
    # work the notification and follow-up steps; both open a result of their sites (another
    # site's is 404). Everyone else is 403. A clinician cannot do an MA step and vice versa (403).
    *[
        Row(name, every(403, **expected), method=method, kwargs=kwargs, data=data or {})
        for name, expected, method, kwargs, data in [
            ("results:inbox", {Role.CLINICIAN: 200}, "get", None, None),
            ("results:coverage", {Role.CLINICIAN: 200}, "get", None, None),
            ("results:coverage_cancel", {Role.CLINICIAN: 302}, "post", matrix_coverage, None),
            ("results:acknowledge", {Role.CLINICIAN: 302}, "post", None, None),
            # The worklist (the shared one): clinicians see it too, and claim nothing there (a
            # result waiting for review is taken from the inbox); release and bulk assign or move
            # are for supervisors (an empty bulk POST is answered with a redirect and a message).
            ("results:worklist", dict.fromkeys(RESULT_VIEWERS, 200), "get", None, None),
            ("results:counts", dict.fromkeys(RESULT_VIEWERS, 200), "get", None, None),
            ("results:view_save", dict.fromkeys(RESULT_VIEWERS, 302), "post", None, {"name": "Mine"}),
            ("results:view_delete", dict.fromkeys(RESULT_VIEWERS, 404), "post", matrix_saved_view, None),
            ("results:bulk", {Role.SUPERVISOR: 302}, "post", None, None),
            (
                "results:claim",
                dict.fromkeys(RESULT_WORKERS, 302),
                "post",
                matrix_result(state=ResultState.REVIEWED),
                None,
            ),
            ("results:release", {Role.SUPERVISOR: 302}, "post", matrix_claimed_result, None),
            ("results:detail", dict.fromkeys(RESULT_VIEWERS, 200), "get", matrix_result(), None),
            ("results:review", {Role.CLINICIAN: 302}, "post", matrix_result(), {"follow_up": "none"}),
            ("results:take", {Role.CLINICIAN: 302}, "post", matrix_result(), None),
            (
                "results:notify",
                dict.fromkeys(RESULT_WORKERS, 302),
                "post",
                matrix_result(state=ResultState.REVIEWED),
                {"method": "phone"},
            ),
            (
                "results:follow_up",
                dict.fromkeys(RESULT_WORKERS, 302),
                "post",
                matrix_result(state=ResultState.PATIENT_NOTIFIED, follow_up=FollowUp.APPOINTMENT),
                {"note": "Booked"},
            ),
            (
                "results:close",
                dict.fromkeys(RESULT_WORKERS, 302),
                "post",
                matrix_result(state=ResultState.FOLLOW_UP_SCHEDULED, follow_up=FollowUp.APPOINTMENT),
                None,
            ),
            ("results:note", dict.fromkeys(RESULT_WORKERS, 302), "post", matrix_result(), {"text": "Left a message"}),
            # An unknown clinician is refused with a redirect and a message (302, post-redirect-get)
            # — only a supervisor gets that far.
            (
                "results:reassign",
                {Role.MEDICAL_ASSISTANT: 403, Role.SUPERVISOR: 302},
                "post",
                matrix_result(),
                {"assignee": "999999"},
            ),
        ]
    ],
    # The results API: the same rule, 401 without credentials.
    *[
        Row(
            f"results-api:{name}",
            every(403, anonymous=401, **expected),
            method=method,
            kwargs=kwargs,
            data=data or {},
            api=True,
        )
        for name, expected, method, kwargs, data in [
            ("list", dict.fromkeys(RESULT_VIEWERS, 200), "get", None, None),
            ("detail", dict.fromkeys(RESULT_VIEWERS, 200), "get", matrix_result(), None),
            ("review", {Role.CLINICIAN: 200}, "post", matrix_result(), {"follow_up": "notify_only"}),
            ("take", {Role.CLINICIAN: 200}, "post", matrix_result(), None),
            ("acknowledge", {Role.CLINICIAN: 400}, "post", None, None),
            ("coverage", {Role.CLINICIAN: 200}, "get", None, None),
            ("coverage", {Role.CLINICIAN: 400}, "post", None, None),
            (
                "notify",
                dict.fromkeys(RESULT_WORKERS, 200),
                "post",
                matrix_result(state=ResultState.REVIEWED),
                {"method": "portal"},
            ),
            (
                "schedule_follow_up",
                dict.fromkeys(RESULT_WORKERS, 200),
                "post",
                matrix_result(state=ResultState.PATIENT_NOTIFIED, follow_up=FollowUp.REPEAT_TEST),
                {"note": "Lab Fri"},
            ),
            (
                "close",
                dict.fromkeys(RESULT_WORKERS, 200),
                "post",
                matrix_result(state=ResultState.FOLLOW_UP_SCHEDULED, follow_up=FollowUp.REPEAT_TEST),
                None,
            ),
            # An unknown assignee is refused (400) — only a supervisor gets that far.
            (
                "reassign",
                {Role.MEDICAL_ASSISTANT: 403, Role.SUPERVISOR: 400},
                "post",
                matrix_result(),
                {"assignee": 999999},
            ),
        ]
    ],
    # Pre-visit intake: medical assistants and supervisors (core.work_intake); an intake at a
    # site the user is not a member of is 404. POSTs without JavaScript redirect back (302).
    # The checklist page is for supervisors (an empty POST is an invalid form: 400).
    *[
        Row(name, every(403, **dict.fromkeys(INTAKE_WORKERS, status)), method=method, kwargs=kwargs, data=data or {})
        for name, status, method, kwargs, data in [
            ("intake:day", 200, "get", None, None),
            ("intake:detail", 200, "get", matrix_intake(), None),
            ("intake:check", 302, "post", matrix_check(), {"done": "1"}),
            ("intake:act", 302, "post", matrix_act("check_in"), None),
            ("intake:outreach", 302, "post", matrix_intake(), {"channel": "phone", "outcome": "no_answer"}),
            ("intake:note", 302, "post", matrix_intake(), {"text": "Left a voicemail"}),
            ("intake:worklist", 200, "get", None, None),
            ("intake:counts", 200, "get", None, None),
            ("intake:claim", 302, "post", matrix_intake(), None),
            ("intake:view_save", 302, "post", None, {"name": "Mine"}),
            ("intake:view_delete", 404, "post", matrix_saved_view, None),
        ]
    ],
    # Releasing a colleague's intake and bulk actions are for supervisors.
    Row("intake:release", every(403, supervisor=302), method="post", kwargs=matrix_claimed_intake),
    Row("intake:bulk", every(403, supervisor=302), method="post"),
    Row("intake:checklists", every(403, supervisor=200)),
    Row("intake:checklists", every(403, supervisor=400), method="post"),
    *[
        Row(
            f"intake-api:{name}",
            every(403, anonymous=401, **dict.fromkeys(INTAKE_WORKERS, status)),
            method=method,
            kwargs=kwargs,
            data=data or {},
            api=True,
        )
        for name, status, method, kwargs, data in [
            ("list", 200, "get", None, None),
            ("detail", 200, "get", matrix_intake(), None),
            ("check", 200, "post", matrix_intake(), {"key": "demographics"}),
            ("check_in", 200, "post", matrix_intake(days=0), None),
            ("no_show", 200, "post", matrix_intake(days=0), None),
            ("cancel", 200, "post", matrix_intake(), {"reason": "Patient moved away"}),
            ("outreach", 201, "post", matrix_intake(), {"channel": "phone", "outcome": "no_answer"}),
            ("notes", 201, "post", matrix_intake(), {"text": "Left a voicemail"}),
        ]
    ],
    # Terminology. $translate: every signed-in member of staff (it shows no patient data); 401
    # without credentials; a POST must carry a Parameters resource (a form is 415). The stewards'
    # own admin pages: stewards act, integration admins (staff with view permission) read but
    # cannot act (403), everyone else is sent to the admin's sign-in (302). Maps have no site.
    Row("fhir-translate", every(200, anonymous=401), data={"system": "http://example.org/cs", "code": "S"}, api=True),
    Row("fhir-translate", every(415, anonymous=401), method="post", api=True),
    Row(
        "admin:terminology_conceptmapversion_transition",
        every(302, integration_admin=403),
        method="post",
        kwargs=matrix_version(transition="submit"),
    ),
    *[
        Row(name, every(302, **dict.fromkeys(STAFF, 200)), kwargs=matrix_version(), other_site=200)
        for name in (
            "admin:terminology_conceptmapversion_export_csv",
            "admin:terminology_conceptmapversion_export_fhir",
        )
    ],
    # The items a version would change (no patient data: anyone who reads maps may see it), and
    # "Activate now"'s confirmation (stewards only; an integration admin reads but cannot act).
    Row(
        "admin:terminology_conceptmapversion_impact",
        every(302, **dict.fromkeys(STAFF, 200)),
        kwargs=matrix_version(),
        other_site=200,
    ),
    Row(
        "admin:terminology_conceptmapversion_activate",
        every(302, terminology_steward=200, integration_admin=403),
        kwargs=matrix_version(state="approved"),
        other_site=200,
    ),
    Row("admin:terminology_conceptmap_draft", every(302, integration_admin=403), method="post", kwargs=matrix_map),
    Row("admin:terminology_conceptmap_import", every(302, integration_admin=403), method="post", kwargs=matrix_map),
    Row(
        "admin:terminology_unmappedcode_draft",
        every(302, terminology_steward=200, integration_admin=403),
        kwargs=matrix_unmapped,
        other_site=200,
    ),
]

# URL namespaces whose every URL is covered by a row of the namespace's own (the admin's
# hundreds of model URLs share the admin's access rule, checked through admin:index here
# and by Django's own tests).
COVERED_NAMESPACES = {"admin"}
