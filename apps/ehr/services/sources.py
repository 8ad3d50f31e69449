"""Writes for EHR sources."""

from django.db import transaction

from ..models import EhrSource


@transaction.atomic
def source_upsert(
    *, name: str, base_url: str | None = None, rotate_token: bool = False
) -> tuple[EhrSource, str | None]:
    """Create a source or update its base URL. Returns the webhook token in full when one was
    made (a new source, or ``rotate_token``); it is stored only as a hash and never shown again."""
    source, created = EhrSource.objects.select_for_update().get_or_create(name=name)
    token = source.new_webhook_token() if created or rotate_token else _token_if_missing(source)
    if base_url is not None:
        source.base_url = base_url.rstrip("/")
    source.full_clean()
    source.save()
    return source, token


@transaction.atomic
def source_save(*, source: EhrSource) -> str | None:
    """Save a source edited as a whole (the admin form, already validated). One without a webhook
    token gets one, returned in full (stored only as a hash, never shown again)."""
    token = _token_if_missing(source)
    source.save()
    return token


def _token_if_missing(source: EhrSource) -> str | None:
    return None if source.webhook_token_hash else source.new_webhook_token()
