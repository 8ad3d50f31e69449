"""Creating a local code system and a concept map (services/maps.py): stewards only, audited, checked."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.terminology.models import CodeSystem, ConceptMap
from apps.terminology.selectors import map_active_version
from apps.terminology.services import code_system_create, concept_map_create
from tests.plugins.core import UserFactory
from tests.plugins.terminology import LOCAL, PRIORITY, canonical_priority

pytestmark = pytest.mark.django_db


def test_a_steward_creates_a_local_code_system_with_its_concepts_audited_as_them(steward_a):
    system = code_system_create(
        url=LOCAL, name="ehr-priority", title="EHR priority", concepts=[("S", "Stat"), ("R", "Routine")], by=steward_a
    )
    assert system.kind == CodeSystem.Kind.LOCAL
    assert dict(system.concepts.values_list("code", "display")) == {"S": "Stat", "R": "Routine"}
    assert LogEntry.objects.get_for_object(system).get().actor == steward_a
    with pytest.raises(ConflictError):
        code_system_create(url=LOCAL, name="other", title="Other", by=steward_a)


def test_a_steward_creates_an_empty_map_to_a_canonical_system(steward_a):
    canonical_priority()
    code_system_create(url=LOCAL, name="ehr-priority", title="EHR priority", by=steward_a)
    made = concept_map_create(
        name="ehr-priority", title="EHR → priority", source_system_url=LOCAL, target_system_url=PRIORITY, by=steward_a
    )
    assert made.url == ConceptMap.default_url("ehr-priority") and map_active_version(made.pk) is None
    assert LogEntry.objects.get_for_object(made).get().actor == steward_a


def test_maps_and_systems_refuse_non_stewards_unknown_systems_and_local_targets(steward_a):
    canonical_priority()
    code_system_create(url=LOCAL, name="ehr-priority", title="EHR priority", by=steward_a)
    with pytest.raises(PermissionDenied):
        code_system_create(url="http://x.example/cs", name="x", title="X", by=UserFactory(role=Role.SCHEDULER))
    with pytest.raises(ApplicationError, match="no code system"):
        concept_map_create(
            name="m", title="M", source_system_url="http://nope", target_system_url=PRIORITY, by=steward_a
        )
    with pytest.raises(ApplicationError, match="not canonical"):
        concept_map_create(name="m", title="M", source_system_url=PRIORITY, target_system_url=LOCAL, by=steward_a)
    with pytest.raises(ApplicationError, match="name"):
        concept_map_create(
            name="not a slug!", title="M", source_system_url=LOCAL, target_system_url=PRIORITY, by=steward_a
        )
    assert not ConceptMap.objects.exists()
