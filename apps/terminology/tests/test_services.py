"""Change control through the services: drafts, four eyes, activation, retirement, audit, diff, impact, hooks."""

from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.terminology.hooks import on_mapping_activated
from apps.terminology.impact import ImpactItem, impact_preview, impact_provider_register
from apps.terminology.models import ConceptMapComment, ConceptMapElement, ConceptMapVersion
from apps.terminology.rows import RowsInvalid
from apps.terminology.selectors import version_diff
from apps.terminology.services import (
    version_activate,
    version_approve,
    version_draft_create,
    version_edit,
    version_reject,
    version_retire,
    version_submit,
    versions_activate_due,
)
from apps.terminology.tasks import activate_due_task
from apps.terminology.workflow import FourEyesError, State
from tests.plugins.core import UserFactory
from tests.plugins.terminology import DEFAULT_ROWS, activated, draft_with, in_review, priority_map, row, steward

pytestmark = pytest.mark.django_db
Relationship = ConceptMapElement.Relationship


@pytest.fixture
def concept_map(db):
    return priority_map()


@pytest.fixture
def active(concept_map, steward_a, steward_b):
    return activated(concept_map, author=steward_a, approver=steward_b)


def rows_of(version):
    return sorted((e.source_code, e.relationship, e.target_code) for e in version.elements.all())


# --- drafts and edits ----------------------------------------------------------------------


def test_a_draft_is_a_copy_of_the_active_version(concept_map, active, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a, note="Add ASAP")
    assert (draft.number, draft.state, draft.based_on, draft.author, draft.last_editor) == (
        2,
        State.DRAFT,
        active,
        steward_a,
        steward_a,
    )
    assert rows_of(draft) == rows_of(active)
    assert draft.comments.get().action == ConceptMapComment.Action.DRAFT


def test_only_one_change_at_a_time(concept_map, active, steward_a, steward_b):
    version_draft_create(map_id=concept_map.pk, by=steward_a)
    with pytest.raises(ConflictError, match="v2 is already open"):
        version_draft_create(map_id=concept_map.pk, by=steward_b)


def test_an_edit_is_checked_whole_and_writes_nothing_when_a_row_is_wrong(concept_map, active, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    before = rows_of(draft)
    with pytest.raises(RowsInvalid) as caught:
        version_edit(
            version_id=draft.pk,
            by=steward_a,
            upserts=[(None, row("A", "asap")), (None, row("X", "soon")), (None, row("N", "urgent", "narrower"))],
        )
    assert caught.value.problems == [
        "row 5 (X): 'soon' is not an active code of Request priority",
        "row 6 (N): a narrower mapping needs a comment saying what meaning is lost",
    ]
    assert rows_of(draft) == before


def test_an_edit_adds_changes_and_removes_rows_and_records_the_editor(concept_map, active, steward_a, steward_b):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    ids = {e.source_code: e.pk for e in draft.elements.all()}
    version_edit(
        version_id=draft.pk,
        by=steward_b,
        upserts=[(None, row("A", "asap")), (ids["U"], row("U", "stat"))],
        deletes=[ids["R"]],
        note="ASAP is its own priority",
    )
    draft.refresh_from_db()
    assert rows_of(draft) == [("A", "equivalent", "asap"), ("S", "equivalent", "stat"), ("U", "equivalent", "stat")]
    assert (draft.last_editor, draft.note) == (steward_b, "ASAP is its own priority")


def test_a_code_cannot_be_both_mapped_and_not_mapped(concept_map, steward_a):
    with pytest.raises(RowsInvalid, match="marked not mapped and also mapped"):
        draft_with(concept_map, [row("T"), row("T", "stat")], by=steward_a)


# --- submit, four eyes, reject, retire ----------------------------------------------------


def test_an_empty_or_unchanged_draft_cannot_be_submitted(concept_map, active, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    with pytest.raises(ApplicationError, match="same as the active version 1; there is nothing to review"):
        version_submit(version_id=draft.pk, by=steward_a)
    version_edit(version_id=draft.pk, by=steward_a, deletes=list(draft.elements.values_list("pk", flat=True)))
    with pytest.raises(ApplicationError, match="has no rows"):
        version_submit(version_id=draft.pk, by=steward_a)


def test_the_author_cannot_approve_their_own_version(concept_map, steward_a):
    version = in_review(concept_map, author=steward_a)
    with pytest.raises(FourEyesError, match="You authored this version; another steward must approve it"):
        version_approve(version_id=version.pk, by=steward_a)
    version.refresh_from_db()
    assert (version.state, version.approver) == (State.IN_REVIEW, None)


def test_the_last_editor_cannot_approve_either(concept_map, steward_a, steward_b):
    draft = draft_with(concept_map, DEFAULT_ROWS, by=steward_a)
    version_edit(version_id=draft.pk, by=steward_b, upserts=[(None, row("A", "asap"))])
    version_submit(version_id=draft.pk, by=steward_a)
    with pytest.raises(FourEyesError, match="You edited this version last"):
        version_approve(version_id=draft.pk, by=steward_b)
    carol = steward("carol")
    assert version_approve(version_id=draft.pk, by=carol).approver == carol


def test_rejecting_needs_a_comment_and_sends_the_version_back_to_draft(concept_map, steward_a, steward_b):
    version = in_review(concept_map, author=steward_a)
    with pytest.raises(ApplicationError, match="A comment is required"):
        version_reject(version_id=version.pk, by=steward_b, comment="  ")
    version = version_reject(version_id=version.pk, by=steward_b, comment="U should be urgent, not stat")
    assert version.state == State.DRAFT
    assert version.comments.last().text == "U should be urgent, not stat"
    version_edit(version_id=version.pk, by=steward_a, upserts=[(None, row("A", "asap"))])


def test_retiring_needs_a_reason_and_deletes_nothing(concept_map, active, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    with pytest.raises(ApplicationError, match="A reason is required"):
        version_retire(version_id=draft.pk, by=steward_a, reason="")
    version_retire(version_id=draft.pk, by=steward_a, reason="Not needed after all")
    draft.refresh_from_db()
    assert (draft.state, draft.retired_reason, draft.elements.count()) == (State.RETIRED, "Not needed after all", 3)
    assert version_draft_create(map_id=concept_map.pk, by=steward_a).number == 3  # a new change may start


@pytest.mark.parametrize("role", [r for r in Role.ALL if r != Role.TERMINOLOGY_STEWARD])
def test_only_stewards_change_maps(role, concept_map, active, own_site):
    someone = UserFactory(role=role, sites=[own_site])
    with pytest.raises(PermissionDenied):
        version_draft_create(map_id=concept_map.pk, by=someone)
    with pytest.raises(PermissionDenied):
        version_retire(version_id=active.pk, by=someone, reason="no")


# --- activation -------------------------------------------------------------------------------


def test_activation_replaces_the_active_version(concept_map, active, steward_a, steward_b):
    version = in_review(concept_map, [*DEFAULT_ROWS, row("A", "asap")], author=steward_b)
    version_approve(version_id=version.pk, by=steward_a)
    version_activate(version_id=version.pk, by=steward_a)
    active.refresh_from_db()
    version.refresh_from_db()
    assert (active.state, active.retired_reason) == (State.RETIRED, "Replaced by version 2.")
    assert (version.state, version.activated_by) == (State.ACTIVE, steward_a)
    assert list(ConceptMapVersion.objects.filter(state=State.ACTIVE)) == [version]


def test_only_an_approved_version_can_be_activated(concept_map, steward_a):
    version = in_review(concept_map, author=steward_a)
    with pytest.raises(ConflictError, match="is in review; it cannot be activated now"):
        version_activate(version_id=version.pk, by=steward_a)


def test_an_active_version_is_immutable(concept_map, active, steward_a):
    with pytest.raises(ConflictError, match="only a draft can be edited"):
        version_edit(version_id=active.pk, by=steward_a, upserts=[(None, row("A", "asap"))])
    element = active.elements.first()
    element.target_code = "asap"
    with pytest.raises(IntegrityError), transaction.atomic():
        element.save()  # the database refuses even code that skips the services
    with pytest.raises(IntegrityError), transaction.atomic():
        ConceptMapElement.objects.create(version=active, source_code="A", target_code="asap")
    active.note = "rewritten"
    with pytest.raises(IntegrityError), transaction.atomic():
        active.save()
    assert rows_of(ConceptMapVersion.objects.get(pk=active.pk)) == rows_of(active)


def test_a_scheduled_activation_happens_when_its_time_comes(concept_map, active, steward_a, steward_b):
    version = in_review(concept_map, [*DEFAULT_ROWS, row("A", "asap")], author=steward_a)
    version_approve(version_id=version.pk, by=steward_b)
    at = timezone.now() + timedelta(hours=2)
    version_activate(version_id=version.pk, by=steward_b, at=at)
    version.refresh_from_db()
    assert (version.state, version.activate_at, version.activation_scheduled_by) == (State.APPROVED, at, steward_b)
    assert versions_activate_due(now=at - timedelta(minutes=1)) == 0
    assert versions_activate_due(now=at) == 1
    version.refresh_from_db()
    assert (version.state, version.activated_at, version.activated_by) == (State.ACTIVE, at, steward_b)
    assert ConceptMapVersion.objects.get(pk=active.pk).state == State.RETIRED
    entry = LogEntry.objects.get_for_object(version).latest("timestamp")
    assert entry.actor == steward_b  # the beat task acts for the steward who scheduled it


def test_every_change_is_audited_with_its_actor(concept_map, steward_a, steward_b):
    version = in_review(concept_map, author=steward_a)
    version_approve(version_id=version.pk, by=steward_b)
    entries = LogEntry.objects.get_for_object(version).order_by("timestamp", "pk")
    states = [(e.actor, e.changes_dict.get("state")) for e in entries]
    assert states == [
        (steward_a, [None, "draft"]),
        (steward_a, ["draft", "in_review"]),
        (steward_b, ["in_review", "approved"]),
    ]
    element = version.elements.get(source_code="S")
    assert LogEntry.objects.get_for_object(element).get().actor == steward_a


# --- diff ---------------------------------------------------------------------------------------


def test_the_diff_against_the_active_version(concept_map, active, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    ids = {e.source_code: e.pk for e in draft.elements.all()}
    version_edit(
        version_id=draft.pk,
        by=steward_a,
        upserts=[(None, row("A", "asap")), (ids["U"], row("U", "stat")), (None, row("T"))],
        deletes=[ids["R"]],
    )
    diff = version_diff(draft)
    assert diff.base == active
    assert [(e.source_code, e.after.summary) for e in diff.added] == [("A", "asap (equivalent)"), ("T", "not mapped")]
    assert [(e.source_code, e.before.summary, e.after.summary) for e in diff.changed] == [
        ("U", "urgent (equivalent)", "stat (equivalent)")
    ]
    assert [(e.source_code, e.before.summary) for e in diff.removed] == [("R", "routine (equivalent)")]
    first = version_diff(active)  # the first active version: everything in it was added
    assert first.base is None and [e.source_code for e in first.added] == ["R", "S", "U"]


def test_an_active_version_shows_what_it_changed_from_its_predecessor(concept_map, active, steward_a, steward_b):
    second = activated(concept_map, [*DEFAULT_ROWS, row("A", "asap")], author=steward_b, approver=steward_a)
    diff = version_diff(second)
    assert diff.base == active and [e.source_code for e in diff.added] == ["A"] and not diff.changed


# --- impact preview (mechanism: workflows register providers) ------------------------------


def test_the_impact_preview_shows_what_registered_providers_count(concept_map, active, steward_a):
    draft = draft_with(concept_map, [row("S", "stat"), row("R", "urgent"), row("U", "urgent")], by=steward_a)
    seen = []

    def referrals(version):
        seen.append(sorted(version_diff(version).source_codes))
        return [ImpactItem("Referrals", n, "Triage", "Own Clinic", "priority", "Routine", "Urgent") for n in range(4)]

    def broken(version):
        raise RuntimeError("provider bug")

    before = impact_preview(draft)  # the workflows' own selectors: a priority map routes nothing
    assert before.rows == [] and before.failures == []
    impact_provider_register(referrals)
    impact_provider_register(broken)
    preview = impact_preview(draft)
    assert preview.providers == before.providers + 2
    assert seen == [["R"]]
    items = reverse("admin:terminology_conceptmapversion_impact", args=[draft.pk])
    assert [(r.queue, r.count, r.url) for r in preview.rows] == [
        ("Triage", 4, f"{items}?workflow=Referrals&queue=Triage")
    ]
    assert preview.total == 4 and preview.failures == [f"{__name__}.{broken.__qualname__}"]


def test_activation_reroutes_what_the_same_selector_lists_after_commit(
    concept_map, active, steward_a, steward_b, django_capture_on_commit_callbacks
):
    version = in_review(concept_map, [row("S", "stat"), row("R", "urgent"), row("U", "urgent")], author=steward_a)
    version_approve(version_id=version.pk, by=steward_b)
    handed: list[tuple[str, list[int]]] = []

    def select(version):
        return [ImpactItem("Referrals", n, "Triage", "Own Clinic", "priority", "Routine", "Urgent") for n in (3, 5)]

    def reroute(version, ids):
        handed.append((version.state, ids))
        return len(ids)

    impact_provider_register(select, reroute=reroute)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version_activate(version_id=version.pk, by=steward_b)
    assert handed == []  # nothing before the activation commits
    for callback in callbacks:
        callback()
    assert handed == [(State.ACTIVE, [3, 5])]


# --- activation hooks ---------------------------------------------------------------------------


def test_the_hook_hears_the_newly_mapped_codes_after_commit(
    concept_map, steward_a, steward_b, django_capture_on_commit_callbacks
):
    heard = []
    on_mapping_activated(lambda system, codes: heard.append((system, codes)))
    activated(concept_map, [row("S", "stat"), row("T")], author=steward_a, approver=steward_b)
    version = in_review(concept_map, [row("S", "stat"), row("T", "stat"), row("A", "asap"), row("Q")], author=steward_a)
    version_approve(version_id=version.pk, by=steward_b)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version_activate(version_id=version.pk, by=steward_b)
    assert heard == []  # nothing before commit
    for callback in callbacks:
        callback()
    # S was mapped before, Q is "not mapped": only T (was not mapped) and A (absent) are new.
    assert heard == [(concept_map.source_system.url, frozenset({"T", "A"}))]


def test_a_failing_hook_does_not_stop_the_others(concept_map, steward_a, steward_b, django_capture_on_commit_callbacks):
    heard = []

    def broken(system, codes):
        raise RuntimeError("inbox down")

    on_mapping_activated(broken)
    on_mapping_activated(lambda system, codes: heard.append(codes))
    with django_capture_on_commit_callbacks(execute=True):
        activated(concept_map, author=steward_a, approver=steward_b)
    assert heard == [frozenset({"S", "R", "U"})]


def test_the_beat_task_activates_what_is_due(concept_map, active, steward_a, steward_b):
    version = in_review(concept_map, [*DEFAULT_ROWS, row("A", "asap")], author=steward_a)
    version_approve(version_id=version.pk, by=steward_b)
    at = timezone.now() + timedelta(minutes=30)
    version_activate(version_id=version.pk, by=steward_b, at=at)
    assert activate_due_task.delay().get() == 0
    with time_machine.travel(at + timedelta(seconds=30)):
        assert activate_due_task.delay().get() == 1
    assert ConceptMapVersion.objects.get(pk=version.pk).state == State.ACTIVE
