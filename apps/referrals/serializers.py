"""API representations of referrals (read-only: state, queue and assignee change only through
the action endpoints) and the inputs of each action."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.ehr.models import ServiceRequest
from apps.workflow.models import Note
from apps.workflow.sla import sla_status

from . import services
from .forms import DECLINE_REASONS
from .models import OutreachAttempt, Referral
from .selectors import QUEUES

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


class ReferralSerializer(serializers.ModelSerializer):
    """A referral as the worklist shows it. ``patient`` is null for roles that may not see
    patients, when the Patient has not arrived from the EHR yet, and in action responses."""

    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    service_line = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    sla_status = serializers.SerializerMethodField()
    patient = serializers.SerializerMethodField()

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

    @extend_schema_field(PatientSerializer(allow_null=True))
    def get_patient(self, obj: Referral) -> dict | None:
        patient = getattr(obj, "patient", None)
        return PatientSerializer(patient).data if patient is not None else None


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


class OutreachSerializer(serializers.ModelSerializer):
    by = UserRefSerializer(read_only=True)

    class Meta:
        model = OutreachAttempt
        fields = ["id", "channel", "outcome", "at", "by", "note"]
        read_only_fields = fields


class ReferralDetailSerializer(ReferralSerializer):
    service_request = ServiceRequestSerializer(read_only=True)
    outreach = OutreachSerializer(many=True, read_only=True)
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

    def get_allowed_actions(self, obj: Referral) -> list[str]:
        return services.allowed_actions(obj, self.context["request"].user)


class ReferralPageSerializer(serializers.Serializer):
    results = ReferralSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page (cursor), or null on the last one")


class NoteSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = Note
        fields = ["id", "at", "author", "text"]
        read_only_fields = fields


# --- action inputs ----------------------------------------------------------------------


class EmptyInput(serializers.Serializer):
    pass


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RequestInfoInput(serializers.Serializer):
    question = serializers.CharField(max_length=1000, help_text="What the referrer must add; they see it")


class DeclineInput(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=DECLINE_REASONS)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class OptionalReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ForwardInput(serializers.Serializer):
    service_line = serializers.SlugField(max_length=40, help_text="The code of a service line offered at the site")
    reason = serializers.CharField(max_length=1000)


class OutreachInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=OutreachAttempt.Channel.choices)
    outcome = serializers.ChoiceField(choices=OutreachAttempt.Outcome.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class NoteAddInput(serializers.Serializer):
    text = serializers.CharField(max_length=4000)


class ReassignInput(serializers.Serializer):
    assignee = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=MAX_ID, help_text="A user id, or null to unassign"
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class MoveInput(serializers.Serializer):
    queue = serializers.ChoiceField(choices=QUEUES)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
