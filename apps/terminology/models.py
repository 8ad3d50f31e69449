"""Code systems, concepts, concept maps under change control, and the unmapped-codes queue."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin

from .workflow import OPEN, State, VersionTransitions

CLINOPS_CANONICAL_BASE = "http://clinops.example.org/fhir"


class CodeSystem(models.Model):
    """A set of codes. Canonical systems are what workflows route on (reference data in
    ``fixtures/terminology_*.json``); local systems are what an EHR, or one site, sends."""

    class Kind(models.TextChoices):
        CANONICAL = "canonical", "Canonical"
        LOCAL = "local", "Local"

    url = models.CharField(max_length=255, unique=True, help_text="The system URI codes arrive with (Coding.system)")
    name = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LOCAL)
    description = models.TextField(blank=True)
    source = models.ForeignKey(
        "ehr.EhrSource",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="code_systems",
        help_text="The EHR whose local codes these are (local systems only)",
    )
    site = models.ForeignKey(
        "core.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="code_systems",
        help_text="A site-specific local extension (local systems only)",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="local") | Q(source__isnull=True, site__isnull=True),
                name="terminology_codesystem_canonical_has_no_source_or_site",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Concept(models.Model):
    """One code of a code system. Concepts are never deleted; an outdated one is made inactive."""

    system = models.ForeignKey(CodeSystem, on_delete=models.PROTECT, related_name="concepts")
    code = models.CharField(max_length=128)
    display = models.CharField(max_length=255)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["system", "code"]
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="terminology_concept_unique")]

    def __str__(self) -> str:
        return f"{self.code} ({self.display})"


class ConceptMap(models.Model):
    """Maps one local code system to one canonical one, through governed versions."""

    name = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    url = models.CharField(max_length=255, unique=True, help_text="Canonical URL (ConceptMap.url)")
    description = models.TextField(blank=True)
    source_system = models.ForeignKey(CodeSystem, on_delete=models.PROTECT, related_name="maps_from")
    target_system = models.ForeignKey(CodeSystem, on_delete=models.PROTECT, related_name="maps_to")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            # One map per pair: translate(system, code, target_system) is never ambiguous.
            models.UniqueConstraint(fields=["source_system", "target_system"], name="terminology_conceptmap_pair"),
            models.CheckConstraint(
                condition=~Q(source_system=F("target_system")), name="terminology_conceptmap_not_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def default_url(name: str) -> str:
        return f"{CLINOPS_CANONICAL_BASE}/ConceptMap/{name}"


class ConceptMapVersion(ConcurrentTransitionMixin, VersionTransitions):
    """One version of a map's rows. Only a draft's rows change (a database trigger holds
    this too); an active version is immutable; a change is a new draft."""

    map = models.ForeignKey(ConceptMap, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Copied from"
    )
    note = models.TextField(blank=True, help_text="What this version changes, and why")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    last_editor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    activate_at = models.DateTimeField(null=True, blank=True, help_text="Scheduled activation")
    activation_scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retired_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["map", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["map", "number"], name="terminology_version_number"),
            models.UniqueConstraint(
                fields=["map"], condition=Q(state=State.ACTIVE), name="terminology_version_one_active"
            ),
            models.UniqueConstraint(fields=["map"], condition=Q(state__in=OPEN), name="terminology_version_one_open"),
        ]
        indexes = [models.Index(fields=["state", "activate_at"])]

    def __str__(self) -> str:
        return f"{self.map.name} v{self.number}"


class ConceptMapElement(models.Model):
    """One row: a source code maps to a target code with a relationship, or to nothing."""

    class Relationship(models.TextChoices):
        # FHIR R4 ConceptMap equivalence codes, except not-mapped (R4 "unmatched").
        EQUIVALENT = "equivalent", "Equivalent"
        WIDER = "wider", "Wider"  # the target means more than the source
        NARROWER = "narrower", "Narrower"  # the target means less (say what is lost in the comment)
        NOT_MAPPED = "not-mapped", "Not mapped"  # no target code fits

    version = models.ForeignKey(ConceptMapVersion, on_delete=models.PROTECT, related_name="elements")
    source_code = models.CharField(max_length=128)
    source_display = models.CharField(max_length=255, blank=True)
    relationship = models.CharField(max_length=16, choices=Relationship.choices, default=Relationship.EQUIVALENT)
    target_code = models.CharField(max_length=128, blank=True)
    target_display = models.CharField(max_length=255, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["version", "source_code", "target_code"]
        verbose_name = "mapping row"
        constraints = [
            models.UniqueConstraint(
                fields=["version", "source_code", "target_code"], name="terminology_element_unique"
            ),
            models.CheckConstraint(
                condition=(
                    Q(relationship="not-mapped", target_code="") | (~Q(relationship="not-mapped") & ~Q(target_code=""))
                ),
                name="terminology_element_target_iff_mapped",
            ),
        ]

    def __str__(self) -> str:
        if self.relationship == self.Relationship.NOT_MAPPED:
            return f"{self.source_code} → (not mapped)"
        return f"{self.source_code} → {self.target_code} ({self.relationship})"


class ConceptMapComment(models.Model):
    """The review history of a version: submissions, approvals, rejections, activation, retirement."""

    class Action(models.TextChoices):
        DRAFT = "draft", "Drafted"
        SUBMIT = "submit", "Submitted for review"
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        SCHEDULE = "schedule", "Activation scheduled"
        ACTIVATE = "activate", "Activated"
        RETIRE = "retire", "Retired"
        IMPORT = "import", "Imported"

    version = models.ForeignKey(ConceptMapVersion, on_delete=models.PROTECT, related_name="comments")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.by or 'the system'}"


class UnmappedCode(models.Model):
    """A local code ingestion met with no active mapping: the stewards' work queue."""

    system = models.CharField(max_length=255)
    code = models.CharField(max_length=128)
    display = models.CharField(max_length=255, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    example = models.CharField(max_length=200, blank=True, help_text="Where it was last seen, e.g. inbox:123")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_version = models.ForeignKey(
        ConceptMapVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = [F("resolved_at").asc(nulls_first=True), "-last_seen"]
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="terminology_unmapped_unique")]

    def __str__(self) -> str:
        return f"{self.code} in {self.system}"


class TranslationGeneration(models.Model):
    """One row whose value goes up whenever what ``translate()`` serves changes (a version is
    activated or retired, canonical concepts change). Every process compares it with the
    generation of its in-memory table (``apps.terminology.translation``)."""

    value = models.BigIntegerField(default=0)
    # Random per change: a table is never mistaken for current because a counter, rolled back
    # with a transaction (as in tests), came round to the same number again.
    token = models.CharField(max_length=32, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"translation table generation {self.value}"
