"""What the intake API reads and writes."""

from rest_framework import serializers

from apps.workflow.serializers import WorkItemSerializer

from .models import Intake, IntakeCheck


class CheckSerializer(serializers.ModelSerializer):
    done = serializers.SerializerMethodField()

    class Meta:
        model = IntakeCheck
        fields = ["key", "label", "done", "done_at", "done_source", "evidence"]
        read_only_fields = fields

    def get_done(self, obj: IntakeCheck) -> bool:
        return obj.done_at is not None


class IntakeSerializer(WorkItemSerializer):
    """An intake with its checklist. ``patient`` is null for roles that may not see patients."""

    checklist = CheckSerializer(source="checks", many=True, read_only=True)
    missing = serializers.SerializerMethodField()
    check_in_minutes = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Intake
        fields = [
            "id", "site", "state", "state_display", "is_open", "assignee", "patient_ref", "patient", "visit_start",
            "visit_date", "appointment_type", "appointment_type_display", "exception_reason", "due_at", "checklist",
            "missing", "outreach_attempts", "ready_at", "complete_before_visit", "arrived_at", "checked_in_at",
            "check_in_minutes", "reschedule_count",
        ]  # fmt: skip
        read_only_fields = fields

    def get_missing(self, obj: Intake) -> list[str]:
        return [c.label for c in obj.checks.all() if not c.done_at]


class CheckInput(serializers.Serializer):
    key = serializers.SlugField(max_length=40)
    done = serializers.BooleanField(default=True)
