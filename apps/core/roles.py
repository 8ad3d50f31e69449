"""Roles are Django groups; each is a set of capabilities (permissions).

Later apps add their model permissions to ``ROLE_PERMISSIONS``; ``roles_sync`` runs after
every ``migrate`` and makes the groups match this table exactly.
"""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction


class Role:
    SCHEDULER = "scheduler"
    MEDICAL_ASSISTANT = "medical_assistant"
    CLINICIAN = "clinician"
    SUPERVISOR = "supervisor"
    TERMINOLOGY_STEWARD = "terminology_steward"
    INTEGRATION_ADMIN = "integration_admin"
    LEADER = "leader"

    LABELS = {
        SCHEDULER: "Scheduler",
        MEDICAL_ASSISTANT: "Medical assistant",
        CLINICIAN: "Clinician",
        SUPERVISOR: "Supervisor",
        TERMINOLOGY_STEWARD: "Terminology steward",
        INTEGRATION_ADMIN: "Integration admin",
        LEADER: "Leader",
    }
    ALL = tuple(LABELS)


EMERGENCY_GROUP = "emergency_access"
COMPLIANCE_GROUP = "compliance_officer"

# The terminology models: stewards edit them in the admin, other staff (admin users) read them.
TERMINOLOGY_MODELS = ("codesystem", "concept", "conceptmap", "conceptmapversion", "conceptmapelement", "unmappedcode")

# "app_label.codename" per role. A permission that does not exist (yet) is an error in
# roles_sync, so a typo cannot silently leave a role without a capability.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.SCHEDULER: ["core.view_patient_data", "core.work_referrals"],
    Role.MEDICAL_ASSISTANT: ["core.view_patient_data", "core.work_intake", "core.work_results"],
    Role.CLINICIAN: ["core.view_patient_data", "core.review_results"],
    Role.SUPERVISOR: [
        "core.view_patient_data",
        "core.work_referrals",
        "core.work_intake",
        "core.work_results",
        "core.supervise_queues",
        "core.view_aggregates",
        "core.review_emergency_access",
    ],
    Role.TERMINOLOGY_STEWARD: [
        "core.steward_terminology",
        *[f"terminology.{action}_{model}" for model in TERMINOLOGY_MODELS for action in ("add", "change", "view")],
    ],
    Role.INTEGRATION_ADMIN: [
        "core.administer_integrations",
        "ehr.read_fhir_api",
        # Staff emails that failed (apps.notifications), to see and send again in the admin.
        "notifications.view_emaildelivery",
        # EHR sources and where their referrals go, in the admin.
        "ehr.add_ehrsource",
        "ehr.change_ehrsource",
        "ehr.view_ehrsource",
        "ehr.add_pollcursor",
        "ehr.change_pollcursor",
        "ehr.view_pollcursor",
        "referrals.add_referralroute",
        "referrals.change_referralroute",
        "referrals.view_referralroute",
        *[f"terminology.view_{model}" for model in TERMINOLOGY_MODELS],
        # The word list that flags side-channel workarounds in notes (apps.governance), in the admin.
        *[f"governance.{action}_workaroundword" for action in ("add", "change", "view", "delete")],
    ],
    Role.LEADER: ["core.view_aggregates", "kpis.set_targets"],
    # Groups that are added to a role, not roles of their own (not in Role.ALL): who may break
    # the glass, and the compliance officers who read the audit report (apps.core.audit_report).
    EMERGENCY_GROUP: ["core.use_emergency_access"],
    COMPLIANCE_GROUP: ["core.view_audit_report"],
}

# Roles whose people use the Django admin (stewards edit mappings, admins manage sources).
STAFF_ROLES = frozenset({Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN})


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_sync() -> None:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS."""
    for role, dotted_names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(name) for name in dotted_names])


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate is sent once per app; sync once, after the last app, when every
    # permission in the table has been created.
    from django.apps import apps

    # (post_migrate is only sent for apps that have models.)
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label == with_models[-1].label:
        roles_sync()


def roles_of(user: Any) -> list[str]:
    """The user's role names, in the order of Role.ALL."""
    if not getattr(user, "is_authenticated", False):
        return []
    if not hasattr(user, "_clinops_group_names"):
        from .backends import roles_and_permissions_load

        roles_and_permissions_load(user)  # with the permissions: one query for both
    names = user._clinops_group_names
    return [role for role in Role.ALL if role in names]


def can_see_patient_data(user: Any) -> bool:
    """Leaders and technical roles see aggregates; only patient-facing roles see patients."""
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("core.view_patient_data"))
