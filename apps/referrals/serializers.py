"""API representations of referrals (read-only: state, queue and assignee change only through
the action endpoints) and the inputs of each action."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.ehr.models import ServiceRequest
from apps.workflow.outreach import outreach_list
from apps.workflow.serializers import MAX_ID, OutreachSerializer, PatientDetailSerializer, WorkItemSerializer
from apps.workflow.sla import sla_status

from . import services
from .forms import DECLINE_REASONS
from .models import Referral
from .selectors import QUEUES


class ReferralSerializer(WorkItemSerializer):
    """A referral as the worklist shows it. ``patient`` is null for roles that may not see
    patients, when the Patient has not arrived from the EHR yet, and in action responses."""

    service_line: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    sla_status = serializers.SerializerMethodField()

    class Meta:
        model = Referral
        fields = [
            "id", "site", "service_line", "queue", "priority", "state", "state_display", "assignee", "claimed_at",
            "due_at", "warn_at", "sla_status", "opened_at", "closed_at", "is_open", "specialty", "specialty_display",
            "reason", "requester_ref", "patient_ref", "patient", "possible_duplicate_of", "exception_reason",
            "outreach_attempts",
        ]  # fmt: skip
        read_only_fields = fields

    def get_sla_status(self, obj: Referral) -> str:
        return sla_status(obj, now=self.context.get("now") or timezone.now())


class ServiceRequestSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    versions_received = serializers.IntegerField(source="revision", read_only=True)

    class Meta:
        model = ServiceRequest
        fields = [
            "reference", "status", "intent", "priority", "category", "code", "code_display", "reason_code",
            "reason_display", "subject_ref", "requester_ref", "performer_ref", "authored_on", "version_id",
            "last_updated", "versions_received",
        ]  # fmt: skip
        read_only_fields = fields


class ReferralDetailSerializer(ReferralSerializer):
    service_request = ServiceRequestSerializer(read_only=True)
    outreach = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta(ReferralSerializer.Meta):
        fields = [
            *ReferralSerializer.Meta.fields, "task_ref", "appointment_ref", "decline_reason", "auth_required",
            "service_request", "outreach", "allowed_actions",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(PatientDetailSerializer(allow_null=True))
    def get_patient(self, obj: Referral) -> dict | None:
        patient = getattr(obj, "patient", None)
        return PatientDetailSerializer(patient).data if patient is not None else None

    @extend_schema_field(OutreachSerializer(many=True))
    def get_outreach(self, obj: Referral) -> Any:
        return OutreachSerializer(outreach_list(workflow=obj.WORKFLOW, item_id=obj.pk), many=True).data

    def get_allowed_actions(self, obj: Referral) -> list[str]:
        return services.allowed_actions(obj, self.context["request"].user)


class ReferralPageSerializer(serializers.Serializer):
    results = ReferralSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page (cursor), or null on the last one")


# --- action inputs ----------------------------------------------------------------------


class RequestInfoInput(serializers.Serializer):
    question = serializers.CharField(max_length=1000, help_text="What the referrer must add; they see it")


class DeclineInput(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=DECLINE_REASONS)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ForwardInput(serializers.Serializer):
    service_line = serializers.SlugField(max_length=40, help_text="The code of a service line offered at the site")
    reason = serializers.CharField(max_length=1000)


class ReassignInput(serializers.Serializer):
    assignee = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=MAX_ID, help_text="A user id, or null to unassign"
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class MoveInput(serializers.Serializer):
    queue = serializers.ChoiceField(choices=QUEUES)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
