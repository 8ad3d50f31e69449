"""Signed, expiring, single-purpose links for patients (django.core.signing): confirm or cancel a
visit, fill the pre-visit questionnaire. The token names a ``PatientLink`` row and is signed with
a salt per purpose, so a confirm link cannot cancel; the row carries the expiry and, once used,
refuses a second use. An unknown or tampered token is "not found" (404), an expired or used one
"gone" (410): the page says which, and nothing else."""

from datetime import timedelta

from django.core import signing
from django.db import transaction
from django.utils import timezone

from .models import PatientLink

SALT = "clinops.patient-link."


class LinkNotFound(Exception):
    """Unknown, tampered, or made for another purpose: answer 404."""


class LinkGone(Exception):
    """Expired or already used: answer 410 (``link`` says whose visit it was, for the clinic's number)."""

    def __init__(self, link: PatientLink | None = None) -> None:
        super().__init__("link expired or used")
        self.link = link


def patient_link_make(*, purpose: str, workflow: str, item_id: int, valid_for: timedelta) -> str:
    """A new link's token for one purpose on one item, valid for ``valid_for`` (caller's transaction)."""
    if purpose not in PatientLink.Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    link = PatientLink.objects.create(
        purpose=purpose, workflow=workflow, item_id=item_id, expires_at=timezone.now() + valid_for
    )
    return signing.dumps(link.pk, salt=SALT + purpose)


def patient_link_open(*, token: str, purpose: str) -> PatientLink:
    """The link a token names, if it was made for ``purpose`` and is still good to use."""
    try:
        link_id = signing.loads(token, salt=SALT + purpose)
    except signing.BadSignature:
        raise LinkNotFound from None
    link = PatientLink.objects.filter(pk=link_id, purpose=purpose).first() if isinstance(link_id, int) else None
    if link is None:
        raise LinkNotFound
    if link.used_at is not None or link.expires_at <= timezone.now():
        raise LinkGone(link)
    return link


@transaction.atomic
def patient_link_use(*, token: str, purpose: str) -> PatientLink:
    """Spend a link (locked: two clicks at once spend it once); a second use is ``LinkGone``."""
    link = patient_link_open(token=token, purpose=purpose)
    link = PatientLink.objects.select_for_update().get(pk=link.pk)
    if link.used_at is not None:
        raise LinkGone(link)
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    return link
