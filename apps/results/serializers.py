from typing import Any

from rest_framework import serializers

from apps.workflow.serializers import MAX_ID

from .models import Coverage, ResultItem
from .workflow import FollowUp, NotifyMethod


class ResultSerializer(serializers.ModelSerializer):
    """A result item without the patient's identity (that is on the page, access-logged)."""

    assignee: serializers.StringRelatedField[Any] = serializers.StringRelatedField()
    ordering_clinician: serializers.StringRelatedField[Any] = serializers.StringRelatedField()
    reviewed_by: serializers.StringRelatedField[Any] = serializers.StringRelatedField()
    site: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # Plain strings in the schema: enum names would collide with the referral's "state".
    state = serializers.CharField(read_only=True, help_text="new, escalated, reviewed, patient_notified, "
                                  "follow_up_scheduled, closed or voided")  # fmt: skip
    notification_method = serializers.CharField(read_only=True, help_text="phone, portal, letter, in_person or sms")

    class Meta:
        model = ResultItem
        fields = [
            "id", "site", "state", "queue", "criticality", "priority", "resource_type", "resource_id", "fhir_status",
            "code", "code_display", "patient_ref", "assignee", "ordering_clinician", "ordering_ref",
            "unassigned_reason", "exception_reason", "changes", "follow_up", "follow_up_note", "notification_method",
            "opened_at", "due_at", "escalated_at", "reviewed_at", "reviewed_by", "notified_at", "closed_at",
            "void_reason",
        ]  # fmt: skip


class ResultDetailSerializer(ResultSerializer):
    class Meta(ResultSerializer.Meta):
        fields = [*ResultSerializer.Meta.fields, "values", "conclusion", "criticality_note"]


class ReviewInput(serializers.Serializer):
    follow_up = serializers.ChoiceField(choices=FollowUp.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AcknowledgeInput(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=200
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class NotifyInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=NotifyMethod.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RequiredNoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=500)


class ResultNoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ResultReassignInput(serializers.Serializer):
    assignee = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CoverageSerializer(serializers.ModelSerializer):
    clinician: serializers.StringRelatedField[Any] = serializers.StringRelatedField()
    covered_by_name: serializers.StringRelatedField[Any] = serializers.StringRelatedField(source="covered_by")

    class Meta:
        model = Coverage
        fields = ["id", "clinician", "covered_by", "covered_by_name", "starts_at", "ends_at", "note"]
        read_only_fields = ["id", "clinician", "covered_by_name"]
        extra_kwargs: dict[str, dict[str, Any]] = {"covered_by": {"queryset": None, "required": True}}

    def __init__(self, *args, **kwargs) -> None:
        from django.contrib.auth import get_user_model

        self.Meta.extra_kwargs["covered_by"]["queryset"] = get_user_model().objects.filter(is_active=True)
        super().__init__(*args, **kwargs)
