"""Impact preview for the terminology stewards: which open referrals would be routed
differently if a specialty map version became active (terminology.impact registry)."""

from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from apps.terminology.impact import QueueImpact
from apps.terminology.translation import translate_version

from .models import Referral
from .routing import SPECIALTY_SYSTEM


def referral_impact(version: Any) -> Iterable[QueueImpact]:
    """Per queue: open referrals whose canonical specialty the version would change."""
    concept_map = version.map
    if concept_map.target_system.url != SPECIALTY_SYSTEM:
        return []
    prefix = f"{concept_map.source_system.url}|"
    changed: Counter[str] = Counter()
    rows = Referral.objects.filter(is_open=True, specialty__startswith=prefix).values_list(
        "queue", "specialty", "canonical_specialty"
    )
    for queue, specialty, current in rows.iterator():
        proposed = translate_version(version, specialty.removeprefix(prefix)).target_code or ""
        if proposed != current:
            changed[queue] += 1
    base = reverse("referrals:worklist")
    return [
        QueueImpact(
            workflow="Referrals", queue=queue, count=count, url=f"{base}?{urlencode({'queue': queue})}", what="routing"
        )
        for queue, count in sorted(changed.items())
    ]
