"""The pre-visit questionnaire on a patient's phone: the site's FHIR Questionnaire (configured on
its clinic contact in the admin, else the one shipped here), its questions as form fields, the
answers checked, and the QuestionnaireResponse built from them (validated as R4 before it goes to
the EHR). Supported item types: string, text, boolean, integer, decimal, date, choice (codings or
strings), display, and groups of those; other items are left out of the form."""

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.http import QueryDict

from apps.ehr.models import StoredResource

from .models import ClinicContact

DEFAULT = Path(__file__).parent / "questionnaires" / "pre-visit.json"
SUPPORTED = {"string", "text", "boolean", "integer", "decimal", "date", "choice", "display"}
MAX_TEXT = {"string": 500, "text": 4000}
MAX_ITEMS = 200
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class AnswersTooLarge(Exception):
    """More answers or longer text than any form of ours allows: a hostile request (400)."""


@dataclass(frozen=True)
class Question:
    link_id: str
    text: str
    type: str
    required: bool = False
    max_length: int = 0
    options: tuple[tuple[str, str], ...] = ()  # (value in the form, what the patient sees)
    codings: dict[str, dict[str, str]] = field(default_factory=dict)  # option value → valueCoding

    @property
    def field(self) -> str:
        return "q-" + self.link_id


def questionnaire_for(site_id: int, source_id: int) -> dict[str, Any]:
    """The site's Questionnaire: the one configured in the admin, else the EHR's (stored from its
    feed) at the site's canonical URL, else the default one shipped with clinops."""
    contact = ClinicContact.objects.filter(site_id=site_id).first()
    if contact is not None and isinstance(contact.questionnaire, dict) and contact.questionnaire:
        return contact.questionnaire
    if contact is not None and contact.questionnaire_url:
        url, _, version = contact.questionnaire_url.partition("|")
        rows = StoredResource.objects.filter(
            source_id=source_id, resource_type="Questionnaire", deleted=False, raw__url=url
        ).order_by("-last_updated")
        for row in rows[:20]:
            if isinstance(row.raw, dict) and (not version or row.raw.get("version") == version):
                return row.raw
    return json.loads(DEFAULT.read_text(encoding="utf-8"))


def _walk(items: Any, out: list[dict[str, Any]], depth: int = 0) -> None:
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or len(out) >= MAX_ITEMS or depth > 5:
            continue
        if item.get("type") == "group":
            out.append({**item, "type": "display", "item": None})
            _walk(item.get("item"), out, depth + 1)
        else:
            out.append(item)


def questions(questionnaire: dict[str, Any]) -> list[Question]:
    """The questions of a Questionnaire as the form shows them, in order (groups flattened)."""
    flat: list[dict[str, Any]] = []
    _walk(questionnaire.get("item"), flat)
    out = []
    for item in flat:
        kind, link_id = item.get("type"), str(item.get("linkId") or "")
        if kind not in SUPPORTED or not link_id or not re.fullmatch(r"[A-Za-z0-9.\-_]{1,64}", link_id):
            continue
        options, codings = [], {}
        for n, option in enumerate(item.get("answerOption") or []):
            coding = option.get("valueCoding") if isinstance(option, dict) else None
            if isinstance(coding, dict) and coding.get("code"):
                value = str(n)
                options.append((value, str(coding.get("display") or coding["code"])))
                codings[value] = {k: str(coding[k]) for k in ("system", "code", "display") if coding.get(k)}
            elif isinstance(option, dict) and isinstance(option.get("valueString"), str):
                options.append((str(n), option["valueString"]))
        limit = min(int(item.get("maxLength") or MAX_TEXT.get(kind, 0)), MAX_TEXT.get(kind, 0))
        out.append(
            Question(
                link_id=link_id, text=str(item.get("text") or link_id)[:500], type=kind,
                required=bool(item.get("required")) and kind != "display", max_length=limit,
                options=tuple(options), codings=codings,
            )
        )  # fmt: skip
    return out


def answers_check(qs: list[Question], data: QueryDict) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers to the questions (FHIR ``answer`` values by linkId) and the errors per field, in
    plain words. Text beyond a question's length, or far more fields than the form has, is hostile:
    ``AnswersTooLarge``."""
    if len(data) > len(qs) + 10:
        raise AnswersTooLarge
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for q in qs:
        if q.type == "display":
            continue
        raw = data.get(q.field, "")
        raw = raw.strip() if isinstance(raw, str) else ""
        if CONTROL.search(raw) or (q.max_length and len(raw) > q.max_length * 2):
            raise AnswersTooLarge
        if not raw:
            if q.required:
                errors[q.field] = "Please answer this question."
            continue
        if q.max_length and len(raw) > q.max_length:
            errors[q.field] = f"Please keep this under {q.max_length} characters."
            continue
        value = _value(q, raw)
        if value is None:
            errors[q.field] = _problem(q)
        else:
            answers[q.link_id] = value
    return answers, errors


def _value(q: Question, raw: str) -> dict[str, Any] | None:
    if q.type in ("string", "text"):
        return {"valueString": raw}
    if q.type == "boolean":
        return {"valueBoolean": raw == "yes"} if raw in ("yes", "no") else None
    if q.type == "integer":
        return {"valueInteger": int(raw)} if re.fullmatch(r"-?\d{1,9}", raw) else None
    if q.type == "decimal":
        try:
            number = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            return None
        return {"valueDecimal": float(number)} if number.is_finite() and len(raw) <= 20 else None
    if q.type == "date":
        try:
            return {"valueDate": date.fromisoformat(raw).isoformat()}
        except ValueError:
            return None
    if q.type == "choice":
        if raw in q.codings:
            return {"valueCoding": q.codings[raw]}
        label = dict(q.options).get(raw)
        return {"valueString": label} if label is not None else None
    return None


def _problem(q: Question) -> str:
    return {
        "boolean": "Please choose yes or no.", "integer": "Please enter a whole number.",
        "decimal": "Please enter a number.", "date": "Please enter a date.",
        "choice": "Please choose one of the answers.",
    }.get(q.type, "Please check this answer.")  # fmt: skip


def questionnaire_response_build(
    questionnaire: dict[str, Any], qs: list[Question], answers: dict[str, Any], *,
    patient_ref: str, authored: datetime, identifier: str,
) -> dict[str, Any]:  # fmt: skip
    """A completed R4 QuestionnaireResponse for the patient (validated by fhir.resources)."""
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    items = [{"linkId": q.link_id, "text": q.text, "answer": [answers[q.link_id]]} for q in qs if q.link_id in answers]
    canonical = str(questionnaire.get("url") or "")
    if canonical and questionnaire.get("version"):
        canonical += f"|{questionnaire['version']}"
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": "http://clinops.example.org/fhir/patient-form", "value": identifier},
        "status": "completed",
        "subject": {"reference": patient_ref},
        "authored": authored.isoformat().replace("+00:00", "Z"),
        "author": {"reference": patient_ref},
        "source": {"reference": patient_ref},
        "item": items,
    }
    if canonical:
        response["questionnaire"] = canonical
    QuestionnaireResponse.model_validate(response)
    return response
