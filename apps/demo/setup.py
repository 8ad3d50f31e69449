"""What the simulated EHR needs beyond each workflow's own demo seed (idempotent, for seed_demo).

The generator (generator.py) orders its lab tests as the referring GPs ``Practitioner/prac-ref0…5``.
Results follow-up routes a result to the clinops clinician linked to its ordering practitioner
(``ClinicianLink``), else to the source's results-site pool. The demo clinician is linked to the
first five; the sixth stays unlinked on purpose, so the North Clinic's unassigned pool has work too.
Intake needs nothing more: ``seeds.intake.demo_intake_seed`` maps each site to the generator's ``Location/loc-<code>``.
"""

import secrets

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model

from apps.core.models import Site
from apps.ehr.models import EhrSource

SOURCE = "demo-ehr"
LINKED_REFERRERS = [f"Practitioner/prac-ref{index}" for index in range(5)]  # prac-ref5: the unassigned pool


def demo_clinicians_link(*, source_name: str = SOURCE, username: str = "clinician", site_code: str = "north") -> str:
    """Link the simulated GPs who order lab tests to the demo clinician; a line for seed_demo."""
    if not django_apps.is_installed("apps.results"):
        return "Demo EHR: results follow-up not installed; no clinician links."
    from apps.results.services import clinician_link_upsert

    source = EhrSource.objects.filter(name=source_name).first()
    user = get_user_model().objects.filter(username=username).first()
    site = Site.objects.filter(code=site_code).first()
    if source is None or user is None or site is None:
        return "Demo EHR: no demo source, clinician or site yet; no clinician links."
    made = 0
    for reference in LINKED_REFERRERS:  # keep_existing: a re-run never undoes an admin's change
        _, created = clinician_link_upsert(
            source=source, practitioner_ref=reference, user=user, site=site, keep_existing=True, by=None
        )
        made += created
    return f"Demo EHR: {len(LINKED_REFERRERS)} ordering GPs linked to {username} at {site} ({made} new)."


def demo_ehr_connect(*, base_url: str, source_name: str = SOURCE, admin_username: str = "integration") -> int:
    """Point the demo source's write-backs at the simulated EHR's endpoints (apps/demo/ehr_server.py)
    with a bearer token, and put its undelivered write-backs back in line through the integration
    console's own retry (as the demo integration admin). Returns how many were put back."""
    from apps.ehr.models import OutboxMessage
    from apps.ehr.services.outbox import outbox_retry
    from apps.ehr.services.sources import source_upsert

    source = EhrSource.objects.filter(name=source_name).first()
    admin = get_user_model().objects.filter(username=admin_username, is_active=True).first()
    if source is None:
        return 0
    has_token = source.auth_type == EhrSource.Auth.BEARER and source.bearer_token
    source, _ = source_upsert(
        name=source_name, base_url=base_url, bearer_token=None if has_token else secrets.token_urlsafe(32)
    )
    undelivered = OutboxMessage.objects.filter(
        source=source, status__in=[OutboxMessage.Status.FAILED, OutboxMessage.Status.DEAD]
    ).values_list("pk", flat=True)
    if admin is None or not undelivered:
        return 0
    return outbox_retry(message_ids=list(undelivered), by=admin)
