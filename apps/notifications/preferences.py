"""Who is told how: the defaults, the person's choices, and what cannot be switched off."""

from apps.core.models import User

from .models import Channel, Kind, Preference

# In the app, everything; by email, what cannot wait for the next look at the screen.
DEFAULTS: dict[tuple[str, str], bool] = {
    **{(kind, Channel.IN_APP): True for kind in Kind.values},
    (Kind.ITEM_ASSIGNED, Channel.EMAIL): False,
    (Kind.ITEM_ESCALATED, Channel.EMAIL): True,
    (Kind.SLA_WARNING, Channel.EMAIL): False,
    (Kind.MAPPING_REVIEW, Channel.EMAIL): True,
    (Kind.DEAD_LETTERS, Channel.EMAIL): True,
    (Kind.FEED_SILENT, Channel.EMAIL): True,
    (Kind.WAITLIST_OFFER, Channel.EMAIL): False,
    (Kind.FRICTION, Channel.EMAIL): False,
}


def preferences_of(user: User) -> dict[tuple[str, str], bool]:
    """Every (kind, channel) → on/off for this user: their choices over the defaults."""
    chosen = {(p.kind, p.channel): p.enabled for p in Preference.objects.filter(user=user)}
    return {key: chosen.get(key, default) for key, default in DEFAULTS.items()}


def wants(prefs: dict[tuple[str, str], bool], kind: str, channel: str, *, critical: bool) -> bool:
    """Critical results (and anything critical) always notify, in the app and by email."""
    return critical or prefs.get((kind, channel), DEFAULTS.get((kind, channel), True))
