"""The clinical side of the simulated EHR's timeline: lab orders with final (sometimes amended)
results, visits that no referral asked for, and the questionnaires and consents before a visit.
Called by generator.simulate with its _Sim, so one seed drives everything."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import fhir_clinical as fc
from .fhir_clinical import Analyte, Panel

if TYPE_CHECKING:
    from .generator import _Sim

A = Analyte
PANELS = [
    Panel("24323-8", "CMP", "Comprehensive metabolic panel", (
        A("2823-3", "K", "Potassium", "mmol/L", 3.5, 5.1, 2.8, 6.2),
        A("2951-2", "NA", "Sodium", "mmol/L", 136, 145, 120, 160, 0),
        A("2160-0", "CREAT", "Creatinine", "mg/dL", 0.6, 1.3, 0.2, 4.0, 2),
        A("2345-7", "GLU", "Glucose", "mg/dL", 70, 99, 40, 450, 0),
    )),
    Panel("58410-2", "CBC", "Complete blood count", (
        A("718-7", "HGB", "Hemoglobin", "g/dL", 12.0, 17.5, 7.0, 20.0),
        A("6690-2", "WBC", "Leukocytes", "10*3/uL", 4.0, 11.0, 1.5, 30.0),
        A("777-3", "PLT", "Platelets", "10*3/uL", 150, 400, 40, 1000, 0),
    )),
    Panel("4548-4", "A1C", "Hemoglobin A1c", (A("4548-4", "A1C", "Hemoglobin A1c", "%", 4.0, 5.6, 2.0, 14.0),)),
    Panel("3016-3", "TSH", "Thyrotropin", (A("3016-3", "TSH", "Thyrotropin", "m[IU]/L", 0.4, 4.0, 0.01, 50.0, 2),)),
    Panel("89579-7", "TROP", "Troponin I, high sensitivity", (
        A("89579-7", "TROPHS", "Troponin I, high sensitivity", "ng/L", 0, 34, -1, 100, 0),
    )),
    # A send-out test the EHR codes only locally: no LOINC, so it needs a map (none yet).
    Panel("", "VITD25", "Vitamin D, 25-hydroxy", (
        A("", "VITD25", "Vitamin D, 25-hydroxy", "ng/mL", 30, 100, 4, 150, 0),
    )),
]  # fmt: skip
# FHIR priority, the North EHR's local code (T and P are not mapped yet), weight
LAB_PRIORITY = [
    ("routine", "R", 0.82), ("urgent", "U", 0.1), ("stat", "S", 0.04), ("urgent", "T", 0.02), ("routine", "P", 0.02),
]  # fmt: skip
QUESTIONS = [
    ("allergies", "Any new allergies since your last visit?"),
    ("medications", "Have your medications changed?"),
    ("falls", "Have you fallen in the past 12 months?"),
]
CONCERNS = ["", "", "Tired a lot lately", "Knee still hurts", "Need a repeat prescription", "Sleeping badly"]
CONSENTS = ["Consent to treatment", "Telehealth consent", "Consent to share records"]


def lab_stream(sim: "_Sim", world: dict, patients: list[dict]) -> None:
    """Lab orders as a Poisson process over the window, each resulting after a lognormal delay."""
    per_second = sim.rates.labs_per_day / 86400
    at = sim.start
    while per_second > 0 and patients:
        at += timedelta(seconds=sim.rng.expovariate(per_second))
        if at > sim.end:
            return
        lab_order(sim, at.replace(microsecond=0), sim.rng.choice(patients), sim.rng.choice(world["referrers"]), world)


def lab_order(sim: "_Sim", t0: datetime, pat: dict, requester: dict, world: dict) -> None:
    """An order, then its Observations and a final DiagnosticReport; sometimes amended later."""
    rates = sim.rates
    panel = sim.rng.choice(PANELS)
    weights = [w for _, _, w in LAB_PRIORITY]
    priority, local, _ = sim.rng.choices(LAB_PRIORITY, weights=weights)[0]
    sim.ensure_patient(t0, pat)
    order = fc.lab_order(
        sr_id=sim.new_id("lab"), at=t0, panel=panel, pat=pat, requester=requester, priority=priority,
        local_priority=local,
    )  # fmt: skip
    sim.emit(t0, order)
    collected = (t0 + sim.lognormal_hours(2.0 if priority != "routine" else 20.0)).replace(microsecond=0)
    resulted = (collected + sim.lognormal_hours(rates.result_delay_hours)).replace(microsecond=0)
    lab = world["lab"]
    severity = sim.rng.random()  # one draw per report: critical, abnormal, or normal
    values = [_value(sim, a, severity) for a in panel.analytes]
    obs_ids = [sim.new_id("obs") for _ in panel.analytes]

    def versions(version: int, at: datetime, status: str, vals: list[tuple[float, str]]) -> None:
        results = [
            fc.observation(
                obs_id=oid, version=version, at=at, status=status, analyte=a, value=v, interpretation=i, pat=pat,
                order=order, performer=lab, effective=collected,
            )
            for oid, a, (v, i) in zip(obs_ids, panel.analytes, vals, strict=True)
        ]  # fmt: skip
        for result in results:
            sim.emit(at, result)
        flags = [i for _, i in vals if i != "N"]
        conclusion = "Critical value(s) phoned to the requester." if {"LL", "HH"} & set(flags) else ""
        sim.emit(
            at + timedelta(seconds=1),
            fc.diagnostic_report(
                dr_id=dr_id, version=version, at=at + timedelta(seconds=1), status=status, panel=panel, pat=pat,
                order=order, performer=lab, effective=collected, results=results, conclusion=conclusion,
            ),
        )  # fmt: skip

    dr_id = sim.new_id("dr")
    versions(1, resulted, "final", values)
    if sim.chance(rates.amended):
        amended_at = (resulted + sim.lognormal_hours(8.0)).replace(microsecond=0)
        index = sim.rng.randrange(len(values))
        corrected = list(values)
        corrected[index] = _value(sim, panel.analytes[index], sim.rng.random())
        versions(2, amended_at, "amended", corrected)


def _value(sim: "_Sim", a: Analyte, severity: float) -> tuple[float, str]:
    rates = sim.rates
    span = a.high - a.low
    if severity < rates.critical_share and sim.chance(0.6):
        if a.critical_low < 0 or sim.chance(0.6):
            return a.critical_high + span * sim.rng.uniform(0.05, 0.5), "HH"
        return max(a.critical_low * sim.rng.uniform(0.5, 0.95), 0.0), "LL"
    if severity < rates.critical_share + rates.abnormal_share and sim.chance(0.5):
        if sim.chance(0.6) or a.low <= 0:
            return a.high + (a.critical_high - a.high) * sim.rng.uniform(0.05, 0.6), "H"
        return a.low - (a.low - a.critical_low) * sim.rng.uniform(0.1, 0.6), "L"
    return sim.rng.uniform(a.low + span * 0.1, a.high - span * 0.1), "N"


def visit_stream(sim: "_Sim", world: dict, patients: list[dict], book) -> None:
    """Visits no referral asked for (follow-ups, annual reviews): booked at a primary-care site."""
    per_second = sim.rates.visits_per_day / 86400
    at = sim.start
    while per_second > 0 and patients:
        at += timedelta(seconds=sim.rng.expovariate(per_second))
        if at > sim.end:
            return
        pat = sim.rng.choice(patients)
        sim.ensure_patient(at.replace(microsecond=0), pat)
        book(at, pat)


def before_visit(sim: "_Sim", booked_at: datetime, start: datetime, pat: dict, appt: dict) -> None:
    """The patient's pre-visit questionnaire and a signed consent, some time between booking and the visit."""
    rates = sim.rates
    if sim.chance(rates.questionnaire):
        at = (booked_at + (start - booked_at) * sim.rng.uniform(0.2, 0.95)).replace(microsecond=0)
        answers: list[tuple[str, str, bool | str]] = [(link, text, sim.chance(0.2)) for link, text in QUESTIONS]
        concern = sim.rng.choice(CONCERNS)
        if concern:
            answers.append(("concern", "Anything you want to talk about?", concern))
        sim.emit(at, fc.questionnaire_response(qr_id=sim.new_id("qr"), at=at, pat=pat, appt=appt, answers=answers))
    if sim.chance(rates.consent):
        at = (booked_at + (start - booked_at) * sim.rng.uniform(0.1, 0.9)).replace(microsecond=0)
        title = sim.rng.choice(CONSENTS)
        sim.emit(at, fc.consent_document(doc_id=sim.new_id("doc"), at=at, pat=pat, appt=appt, title=title))
