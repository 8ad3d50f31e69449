"""Read and search the local store: parameters, filters, keyset pages (rules in the package docstring)."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_
from typing import cast

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict

from ..models import STORE_MODELS, EhrSource, FhirResource, StoredResource
from ..services.envelope import id_problem
from ..services.inbox import is_resource_type
from .dates import DateValueError, date_bound_parse
from .errors import FhirError

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}\Z")
DEFAULT_COUNT = 50
MAX_COUNT = 500
# Parameters that shape the answer rather than filter it; _format and _pretty are the view's.
RESULT_PARAMS = ("_count", "_summary", "_total", "_after", "_before", "_format", "_pretty")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"^(-?[0-9]{1,18})_([0-9]{1,19})\Z")
_MAX_PK = 2**63 - 1
_COUNT = re.compile(r"^[0-9]{1,9}\Z")


def store_model(resource_type: str) -> type[FhirResource]:
    """The store model for a FHIR type name; 404 OperationOutcome for a type that is not R4.

    A type without a typed model is served from the generic store: a stand-in class with the
    ``RESOURCE_TYPE``, ``PATIENT_FIELD``, ``_meta`` and ``_default_manager`` (its rows of that
    type) that the search and read code use, so every function here serves both kinds."""
    model = STORE_MODELS.get(resource_type)
    if model is not None:
        return model
    if not is_resource_type(resource_type):
        raise FhirError(
            404, f"Resource type {resource_type[:64]!r} is not an R4 resource type; /fhir/metadata lists the types.",
            code="not-supported",
        )  # fmt: skip
    generic = type(
        f"Stored{resource_type}",
        (),
        {
            "RESOURCE_TYPE": resource_type,
            "PATIENT_FIELD": StoredResource.PATIENT_FIELD,
            "_meta": StoredResource._meta,
            "_default_manager": StoredResource.objects.filter(resource_type=resource_type),
        },
    )
    return cast(type[FhirResource], generic)


def has_status(model: type[FhirResource]) -> bool:
    """Whether the model keeps the resource's ``status`` (and so supports the ``status`` search)."""
    try:
        model._meta.get_field("status")  # type: ignore[misc]  # the plugin checks the abstract base only
    except FieldDoesNotExist:
        return False
    return True


def search_params(model: type[FhirResource]) -> dict[str, tuple[str, str]]:
    """The search parameters ``model`` supports: name -> (FHIR search type, documentation)."""
    params = {
        "_id": ("token", "Logical id; comma-separated ids match any."),
        "_lastUpdated": ("date", "meta.lastUpdated with prefix eq (default), gt, ge, lt or le; repeat for a range."),
    }
    if model.PATIENT_FIELD:
        doc = "The patient, as Patient/<id> or <id>; comma-separated values match any."
        params["patient"] = ("reference", doc)
        params["subject"] = ("reference", doc)
    if has_status(model):
        params["status"] = ("token", "Status code; comma-separated codes match any.")
    return params


@dataclass(frozen=True)
class Cursor:
    """A position in (last_updated, id) order, written ``<microseconds since epoch>_<row id>``."""

    micros: int
    pk: int

    @classmethod
    def of(cls, row: FhirResource) -> "Cursor":
        return cls((row.last_updated - _EPOCH) // timedelta(microseconds=1), row.pk)

    @classmethod
    def parse(cls, name: str, value: str) -> "Cursor":
        match = _CURSOR.match(value)
        try:
            cursor = cls(int(match[1]), int(match[2])) if match else None
            if cursor is None or cursor.pk > _MAX_PK or not cursor.moment:
                raise ValueError(value)
        except (ValueError, OverflowError) as exc:
            raise FhirError(
                400, f"{name}={value[:64]!r} is not a page cursor from a Bundle link.", expression=name
            ) from exc
        return cursor

    def __str__(self) -> str:
        return f"{self.micros}_{self.pk}"

    @property
    def moment(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.micros)

    def after(self) -> Q:
        return Q(last_updated__gt=self.moment) | Q(last_updated=self.moment, pk__gt=self.pk)

    def before(self) -> Q:
        return Q(last_updated__lt=self.moment) | Q(last_updated=self.moment, pk__lt=self.pk)


@dataclass
class SearchQuery:
    """A parsed search: filters (ANDed), the parameters they came from, and how to page."""

    filters: list[Q] = field(default_factory=list)
    echo: list[tuple[str, str]] = field(default_factory=list)  # accepted filters, for Bundle links
    count: int = DEFAULT_COUNT
    summary_count: bool = False
    with_total: bool = True
    after: Cursor | None = None
    before: Cursor | None = None
    ignored: list[str] = field(default_factory=list)  # lenient handling: what was left out, and why


def _values(name: str, value: str) -> list[str]:
    parts = value.split(",")
    if not all(parts):
        raise FhirError(400, f"{name}={value!r} has an empty value between commas.", expression=name)
    return parts


def _patient_reference(name: str, value: str) -> str:
    kind, slash, pid = value.rpartition("/") if "/" in value else ("Patient", "/", value)
    if kind != "Patient" or not slash or not ID_PATTERN.match(pid):
        raise FhirError(400, f"{name}={value!r} is not a patient: use Patient/<id> or <id>.", expression=name)
    return f"Patient/{pid}"


def _filter(model: type[FhirResource], name: str, value: str) -> Q:
    if name == "_id":
        ids = _values(name, value)
        if bad := next((i for i in ids if not ID_PATTERN.match(i)), None):
            raise FhirError(400, id_problem(model.RESOURCE_TYPE, bad), expression=name)
        return Q(fhir_id__in=ids)
    if name in ("patient", "subject"):
        refs = [_patient_reference(name, part) for part in _values(name, value)]
        return Q(**{f"{model.PATIENT_FIELD}__in": refs})
    if name == "status":
        return Q(status__in=_values(name, value))
    try:
        bounds = [date_bound_parse(part) for part in _values(name, value)]
    except DateValueError as exc:
        raise FhirError(400, f"{name}: {exc}.", expression=name) from exc
    return reduce(or_, (bound.q("last_updated") for bound in bounds))


def _result_param(query: SearchQuery, name: str, value: str) -> None:
    if name == "_count":
        if not _COUNT.match(value):
            raise FhirError(400, f"_count={value!r} is not a whole number.", expression=name)
        query.count = min(int(value), MAX_COUNT)
    elif name == "_summary":
        if value not in ("count", "false"):
            raise FhirError(400, f"_summary={value!r} is not supported; use count or false.", expression=name)
        query.summary_count = value == "count"
    elif name == "_total":
        if value not in ("none", "estimate", "accurate"):
            raise FhirError(400, f"_total={value!r}: use none, estimate or accurate.", expression=name)
        query.with_total = value != "none"
    elif name in ("_after", "_before"):
        setattr(query, name[1:], Cursor.parse(name, value))


def search_parse(model: type[FhirResource], params: QueryDict, *, strict: bool = True) -> SearchQuery:
    """Read the query string of a search; FhirError (400) names the first parameter at fault."""
    supported = search_params(model)
    query = SearchQuery()
    for name, values in params.lists():
        base, colon, _modifier = name.partition(":")
        if base not in supported and base not in RESULT_PARAMS:
            problem = f"Unknown search parameter {name!r} for {model.RESOURCE_TYPE}; supported: {', '.join(supported)}."
        elif colon:
            problem = f"Search parameter {name!r}: modifiers are not supported."
        elif not all(values):
            problem = f"Search parameter {name!r} has no value."
        else:
            problem = ""
        if problem:
            if strict:
                raise FhirError(400, problem, code="not-supported", expression=name)
            query.ignored.append(problem)
            continue
        for value in values:
            if name in supported:
                query.filters.append(_filter(model, name, value))
                query.echo.append((name, value))
            else:
                _result_param(query, name, value)
    if query.after and query.before:
        raise FhirError(400, "Use _after or _before, not both.", expression="_before")
    return query


def _visible(model: type[FhirResource], source_ids: list[int]) -> QuerySet[FhirResource]:
    """What read would answer with, per id: the newest row over all sources, and not a delete."""
    rows = model._default_manager.all()
    if len(source_ids) > 1:
        # source_id IN (...) lets the (source, fhir_id) unique index serve the lookup.
        newer = model._default_manager.filter(source_id__in=source_ids, fhir_id=OuterRef("fhir_id")).filter(
            Q(last_updated__gt=OuterRef("last_updated"))
            | Q(last_updated=OuterRef("last_updated"), pk__gt=OuterRef("pk"))
        )
        rows = rows.filter(~Exists(newer))
    return rows.filter(deleted=False)


def store_read(model: type[FhirResource], fhir_id: str) -> FhirResource | None:
    """The resource with this id, deleted or not; of several sources' rows, the most recently updated wins.

    Ties on ``last_updated`` go to the highest row id (the row stored last).
    """
    if not ID_PATTERN.match(fhir_id):
        return None
    source_ids = list(EhrSource.objects.values_list("id", flat=True))
    rows = model._default_manager.filter(source_id__in=source_ids, fhir_id=fhir_id)
    return rows.order_by("-last_updated", "-pk").first()


@dataclass
class Page:
    """One page of a search: its rows in order, the total, and where the next and previous pages start."""

    rows: list[FhirResource]
    total: int | None
    next: Cursor | None = None
    previous: Cursor | None = None


def store_search(model: type[FhirResource], query: SearchQuery) -> Page:
    """Matching, visible resources in (last_updated, id) order: one keyset page and the total."""
    matching = _visible(model, list(EhrSource.objects.values_list("id", flat=True)))
    for condition in query.filters:
        matching = matching.filter(condition)
    total = matching.count() if query.with_total or query.summary_count else None
    size = query.count
    if query.summary_count or size == 0:
        return Page([], total)
    columns = ["id", "fhir_id", "last_updated", "raw", *([model.PATIENT_FIELD] if model.PATIENT_FIELD else [])]
    rows = matching.only(*columns)
    if query.before:
        found = list(rows.filter(query.before.before()).order_by("-last_updated", "-pk")[: size + 1])
        page = found[:size][::-1]
        previous = Cursor.of(page[0]) if len(found) > size else None
        after_last = page and matching.filter(Cursor.of(page[-1]).after()).exists()
        return Page(page, total, next=Cursor.of(page[-1]) if after_last else None, previous=previous)
    if query.after:
        rows = rows.filter(query.after.after())
    found = list(rows.order_by("last_updated", "pk")[: size + 1])
    page = found[:size]
    before_first = query.after and page and matching.filter(Cursor.of(page[0]).before()).exists()
    return Page(
        page,
        total,
        next=Cursor.of(page[-1]) if len(found) > size else None,
        previous=Cursor.of(page[0]) if before_first else None,
    )
