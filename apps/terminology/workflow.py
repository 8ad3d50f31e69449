"""Change control of a concept map version.

    draft ─submit─▶ in_review ─approve─▶ approved ─activate─▶ active ─supersede─▶ retired
      ▲                 │                    │                  │      (a newer version became active)
      └──────reject─────┴────────────────────┘                  └─retire─▶ retired
    draft / in_review / approved ─retire─▶ retired   (a change that is abandoned; nothing is deleted)

Only a draft's rows can change. ``approve`` is four eyes: the approver is none of the author,
the last editor and the person who submitted the version. ``reject`` needs a comment and
``retire`` a reason. An approved version is activated at once or at a scheduled time; the
previous active version is superseded in the same transaction.

Transitions change fields only; ``apps.terminology.services`` locks, checks, saves, audits and
schedules side effects after commit.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django_fsm import FSMField, transition

from apps.core.errors import ApplicationError

STEWARD_PERMISSION = "core.steward_terminology"


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


# Versions that are still a change in progress: at most one per map.
OPEN = (State.DRAFT, State.IN_REVIEW, State.APPROVED)


def is_steward(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_perm(STEWARD_PERMISSION))


def ensure_steward(user: Any) -> None:
    """Only terminology stewards change code systems and maps; everyone else may read."""
    if not is_steward(user):
        raise PermissionDenied("Only terminology stewards can change concept maps.")


def four_eyes_problem(version: Any, user: Any) -> str:
    """Why ``user`` may not approve ``version`` ("" when they may): four eyes."""
    if user is None:
        return "An approval needs a person who approves."
    if version.author_id is not None and version.author_id == user.pk:
        return "You authored this version; another steward must approve it (four eyes)."
    if version.last_editor_id is not None and version.last_editor_id == user.pk:
        return "You edited this version last; another steward must approve it (four eyes)."
    if version.submitted_by_id is not None and version.submitted_by_id == user.pk:
        return "You submitted this version for review; another steward must approve it (four eyes)."
    return ""


def may_approve(version: Any, user: Any) -> bool:
    """django-fsm-2 transition permission: a steward who passes four eyes."""
    return is_steward(user) and not four_eyes_problem(version, user)


class FourEyesError(ApplicationError):
    """The approver is the author, the last editor or the submitter of the version."""

    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message, code="four_eyes")


class VersionTransitions(models.Model):
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    # Fields of the concrete model (ConceptMapVersion) the transitions set, for the type checker.
    submitted_by: Any
    submitted_at: datetime | None
    approver: Any
    approved_at: datetime | None
    activate_at: datetime | None
    activation_scheduled_by: Any
    activated_at: datetime | None
    activated_by: Any
    retired_at: datetime | None
    retired_by: Any

    class Meta:
        abstract = True

    @transition(field=state, source=State.DRAFT, target=State.IN_REVIEW)
    def submit(self, *, by: Any, now: datetime) -> None:
        self.submitted_by = by
        self.submitted_at = now

    @transition(field=state, source=State.IN_REVIEW, target=State.APPROVED, permission=may_approve)
    def approve(self, *, by: Any, now: datetime) -> None:
        # The service checks first and explains; this keeps the rule even for a direct call.
        if problem := four_eyes_problem(self, by):
            raise FourEyesError(problem)
        self.approver = by
        self.approved_at = now

    @transition(field=state, source=[State.IN_REVIEW, State.APPROVED], target=State.DRAFT)
    def reject(self, *, by: Any, now: datetime) -> None:
        self.submitted_by = None
        self.submitted_at = None
        self.approver = None
        self.approved_at = None
        self.activate_at = None
        self.activation_scheduled_by = None

    @transition(field=state, source=State.APPROVED, target=State.APPROVED)
    def schedule(self, *, by: Any, at: datetime) -> None:
        self.activate_at = at
        self.activation_scheduled_by = by

    @transition(field=state, source=State.APPROVED, target=State.ACTIVE)
    def activate(self, *, by: Any, now: datetime) -> None:
        self.activated_at = now
        self.activated_by = by
        self.activate_at = None

    @transition(field=state, source=State.ACTIVE, target=State.RETIRED)
    def supersede(self, *, by: Any, now: datetime, successor_number: int) -> None:
        self.retired_at = now
        self.retired_by = by
        self.retired_reason = f"Replaced by version {successor_number}."

    @transition(field=state, source=[*OPEN, State.ACTIVE], target=State.RETIRED)
    def retire(self, *, by: Any, now: datetime, reason: str) -> None:
        self.retired_at = now
        self.retired_by = by
        self.retired_reason = reason
        self.activate_at = None
