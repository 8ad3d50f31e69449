"""API shapes every workflow shares: the work-item fields, the person and patient blocks, notes,
outreach, and the inputs of the actions every workflow has. Workflow serializers build on these."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Note, Outreach, OutreachChannel, OutreachOutcome

# Ids are BIGINTs: a larger number must be a 400 here, not an overflow in the database.
MAX_ID = 2**63 - 1


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="__str__", read_only=True)


class PatientSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="Patient/<id> in the local store")
    family = serializers.CharField()
    given = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)


class PatientDetailSerializer(PatientSerializer):
    gender = serializers.CharField()
    mrn = serializers.CharField()


class WorkItemSerializer(serializers.ModelSerializer):
    """The fields of every work item; ``patient`` is the store Patient a selector attached
    (null for roles that may not see patients and when it has not arrived from the EHR yet).
    Subclasses name their model and fields."""

    site: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    patient = serializers.SerializerMethodField()

    @extend_schema_field(PatientSerializer(allow_null=True))
    def get_patient(self, obj: Any) -> dict[str, Any] | None:
        patient = getattr(obj, "patient", None)
        return PatientSerializer(patient).data if patient is not None else None


class NoteSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = Note
        fields = ["id", "at", "author", "text"]
        read_only_fields = fields


class OutreachSerializer(serializers.ModelSerializer):
    by = UserRefSerializer(read_only=True)

    class Meta:
        model = Outreach
        fields = ["id", "channel", "outcome", "at", "by", "note"]
        read_only_fields = fields


# --- action inputs ----------------------------------------------------------------------


class EmptyInput(serializers.Serializer):
    pass


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class OptionalReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OutreachInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=OutreachChannel.choices)
    outcome = serializers.ChoiceField(choices=OutreachOutcome.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class NoteAddInput(serializers.Serializer):
    text = serializers.CharField(max_length=4000)
