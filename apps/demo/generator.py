"""The simulated EHR's timeline: pure functions of a seed, a window and the rates.

``simulate(config, start=…, end=…)`` returns the events (a time and a FHIR resource version) in
time order. The demo's reference data (the lab, Locations, Practitioners, PractitionerRoles)
appears at ``start``, a patient when first seen; referrals arrive as a Poisson process over the
window, and each one lives its life: the referrer's Task, sometimes a priority change (a new
ServiceRequest version), a withdrawal (revoked ServiceRequest or cancelled Task), an Appointment
booked after a lognormal delay, sometimes rescheduled, then cancelled, no-show (often rebooked)
or fulfilled with a finished Encounter. clinical.py adds lab orders with their results, visits
no referral asked for, and the questionnaires and consents before each booked visit. Events
after ``end`` have not happened yet and are left out, so a window ending now leaves work open
in every state.

All randomness comes from one ``random.Random(config.seed)`` drawn in a fixed order, and no
clock is read: the same config and window give the same events, byte for byte.
"""

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apps.demo.seeds.referrals import SNOMED_ROWS

from . import clinical, fhir
from .fhir import Specialty
from .fhir_clinical import laboratory

# The demo sites (as seed_demo makes them): code, name, time zone.
SITES = [
    ("north", "North Clinic", "America/New_York"),
    ("south", "South Hospital", "America/Chicago"),
    ("west", "West Clinic", "America/Los_Angeles"),
]
# Where each specialty's clinicians work (mirrors seeds/referrals.py SPECIALTY_SITES; north otherwise).
SPECIALTY_SITE = {"neurology": "south", "gastroenterology": "south", "pulmonology": "south", "endocrinology": "west"}
# Dermatology is deliberately not in the demo map: its referrals wait in the exceptions queue.
UNMAPPED = [Specialty("394582007", "Dermatology", mapped=False)]
SPECIALTIES = [Specialty(code, display, mapped=True) for code, display, _ in SNOMED_ROWS] + UNMAPPED
CANONICAL = {code: canonical for code, _, canonical in SNOMED_ROWS}
GENERAL_PRACTICE = next(s for s in SPECIALTIES if CANONICAL.get(s.code) == "primary-care")

REASONS = {
    "394579002": ["Chest pain on exertion", "Palpitations", "New heart murmur", "Syncope, query cardiac cause"],
    "394591006": ["Recurrent migraine", "Peripheral neuropathy", "First seizure", "Tremor, query Parkinson disease"],
    "394801008": [
        "Knee pain, query meniscal tear",
        "Chronic low back pain",
        "Shoulder impingement",
        "Hip osteoarthritis",
    ],
    "394584008": ["Iron deficiency anaemia", "Change in bowel habit", "Dysphagia", "Abnormal liver function tests"],
    "394583002": ["Poorly controlled type 2 diabetes", "Thyroid nodule", "Hypercalcaemia", "Adrenal incidentaloma"],
    "418112009": ["Chronic cough", "Abnormal chest X-ray", "Suspected sleep apnoea", "Worsening COPD"],
    "394814009": ["New patient, transfer of care", "Annual review", "Medication review"],
    "394582007": ["Changing pigmented lesion", "Severe eczema", "Psoriasis not responding to topicals", "Acne"],
}
GIVEN_F = ["Olivia", "Emma", "Ava", "Sophia", "Maria", "Aisha", "Mei", "Grace", "Fatima", "Lucia", "Hannah", "Chloe"]
GIVEN_M = ["James", "Liam", "Noah", "Mateo", "Omar", "Wei", "Daniel", "Samuel", "Arjun", "Lucas", "Ethan", "Kwame"]
FAMILY = [
    "Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Kim", "Brown", "Martinez", "Okafor", "Cohen", "Rossi",
    "Schmidt", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Moore", "Jackson", "Lee", "Walker", "Khan",
]  # fmt: skip
PRIORITIES = [("routine", 0.80), ("urgent", 0.13), ("asap", 0.05), ("stat", 0.02)]
ORDER = [  # the order ehr_import should see the types in (files are named by it)
    "Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "ServiceRequest", "Task",
    "Appointment", "Encounter", "Observation", "DiagnosticReport", "QuestionnaireResponse", "DocumentReference",
]  # fmt: skip


@dataclass(frozen=True)
class Rates:
    """Volumes, probabilities and delays (median days of a lognormal, and its sigma)."""

    referrals_per_day: float = 12.0
    patients_per_referral: float = 0.8  # < 1: some patients are referred twice
    unmapped_share: float = 0.05  # dermatology referrals (not mapped: exceptions queue)
    priority_change: float = 0.08
    withdrawn: float = 0.05  # revoked ServiceRequest or cancelled Task before booking
    booked: float = 0.80
    rescheduled: float = 0.15
    appt_cancelled: float = 0.06
    no_show: float = 0.08
    rebooked: float = 0.6  # after a no-show or a cancelled appointment
    book_delay_days: float = 6.0
    lead_days: float = 14.0  # booking → appointment
    sigma: float = 0.7
    visits_per_day: float = 8.0  # appointments no referral asked for (follow-ups, reviews)
    labs_per_day: float = 10.0
    result_delay_hours: float = 6.0  # collection → final result (median)
    amended: float = 0.04  # final results later amended
    critical_share: float = 0.04  # reports with a critical value (HH/LL)
    abnormal_share: float = 0.25  # reports with an abnormal value (H/L)
    questionnaire: float = 0.6  # booked visits whose patient completes the pre-visit questionnaire
    consent: float = 0.4  # booked visits with a consent signed beforehand


@dataclass(frozen=True)
class Config:
    seed: int = 1
    rates: Rates = field(default_factory=Rates)


@dataclass(frozen=True)
class Event:
    at: datetime
    seq: int  # tie-break: the order events were made in
    resource: dict


class _Sim:
    def __init__(self, config: Config, start: datetime, end: datetime) -> None:
        self.rng = random.Random(config.seed)  # noqa: S311 - a simulation, not security
        self.rates = config.rates
        self.start, self.end = start, end
        self.events: list[Event] = []
        self.emitted_patients: set[str] = set()

    def emit(self, at: datetime, resource: dict) -> None:
        if at <= self.end:
            self.events.append(Event(at, len(self.events), resource))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{self.rng.getrandbits(48):012x}"

    def ensure_patient(self, at: datetime, pat: dict) -> None:
        """Emit the patient when first seen (registered then)."""
        if pat["id"] not in self.emitted_patients:
            self.emitted_patients.add(pat["id"])
            pat["meta"]["lastUpdated"] = fhir.instant(at)
            self.emit(at, pat)

    def lognormal_hours(self, median: float) -> timedelta:
        return timedelta(hours=self.rng.lognormvariate(math.log(median), self.rates.sigma))

    def lognormal_days(self, median: float) -> timedelta:
        return timedelta(days=self.rng.lognormvariate(math.log(median), self.rates.sigma))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


def simulate(config: Config, *, start: datetime, end: datetime) -> list[Event]:
    """Every event of the window [start, end] (aware UTC datetimes), in time order."""
    sim = _Sim(config, start, end)
    world = _reference_data(sim)
    per_second = sim.rates.referrals_per_day / 86400
    # The expected count sizes the patient pool; the arrivals themselves are a Poisson process.
    expected = per_second * (end - start).total_seconds()
    patients = [_patient(sim) for _ in range(max(1, round(expected * sim.rates.patients_per_referral)))]
    at = start
    while per_second > 0:
        at += timedelta(seconds=sim.rng.expovariate(per_second))
        if at > end:
            break
        _referral(sim, at, sim.rng.choice(patients), world)
    clinical.lab_stream(sim, world, patients)
    clinical.visit_stream(sim, world, patients, lambda at, pat: _visit(sim, at, pat, world))
    return sorted(sim.events, key=lambda e: (e.at, e.seq))


def _reference_data(sim: _Sim) -> dict:
    """Sites, referrers and clinicians: the same for every seed (fixed ids and names), so a live
    feed and the history it follows agree on who works where."""
    at = sim.start
    seeded, sim.rng = sim.rng, random.Random("clinops-demo-staff")  # noqa: S311 - a simulation
    lab = laboratory(org_id="org-lab", name="Demo Reference Laboratory", at=at)
    sim.emit(at, lab)
    sites: dict[str, dict] = {}
    for code, name, tz in SITES:
        loc = fhir.location(loc_id=f"loc-{code}", code=code, name=name, timezone=tz, at=at)
        sim.emit(at, loc)
        sites[code] = {"loc": loc, "tz": ZoneInfo(tz), "clinicians": {}}
    referrers = []
    for index in range(6):
        prac = _practitioner(sim, f"ref{index}")
        sim.emit(at, prac)
        sim.emit(
            at,
            fhir.practitioner_role(
                role_id=f"role-{prac['id']}", prac=prac, loc=None, specialty=GENERAL_PRACTICE, role="doctor", at=at
            ),
        )
        referrers.append(prac)
    for specialty in SPECIALTIES:
        site = sites[SPECIALTY_SITE.get(CANONICAL.get(specialty.code, ""), "north")]
        clinicians = []
        for index in range(2):
            prac = _practitioner(sim, f"{specialty.code}-{index}")
            sim.emit(at, prac)
            sim.emit(
                at,
                fhir.practitioner_role(
                    role_id=f"role-{prac['id']}", prac=prac, loc=site["loc"], specialty=specialty, role="doctor", at=at
                ),
            )
            clinicians.append(prac)
        site["clinicians"][specialty.code] = clinicians
    sim.rng = seeded
    return {"sites": sites, "referrers": referrers, "lab": lab}


def _practitioner(sim: _Sim, key: str) -> dict:
    female = sim.chance(0.5)
    given = sim.rng.choice(GIVEN_F if female else GIVEN_M)
    number = f"{sim.rng.randint(10_000_000, 99_999_999)}"
    return fhir.practitioner(
        prac_id=f"prac-{key}",
        number=number,
        given=given,
        family=sim.rng.choice(FAMILY),
        gender="female" if female else "male",
        at=sim.start,
    )


def _patient(sim: _Sim) -> dict:
    female = sim.chance(0.52)
    pool = GIVEN_F if female else GIVEN_M
    given = [sim.rng.choice(pool)] + ([sim.rng.choice(pool)] if sim.chance(0.4) else [])
    age_days = sim.rng.randint(18 * 365, 92 * 365)
    born = sim.start.date() - timedelta(days=age_days)
    resource = fhir.patient(
        pat_id=sim.new_id("pat"),
        mrn=f"MRN{sim.rng.randint(1_000_000, 9_999_999)}",
        given=given,
        family=sim.rng.choice(FAMILY),
        gender="female" if female else "male",
        birth_date=date(born.year, born.month, born.day),
        phone=f"555-01{sim.rng.randint(0, 99):02d}",  # 555-0100..0199: reserved for fiction
        at=sim.start,
    )
    return resource  # emitted with the patient's first referral


def _weighted(sim: _Sim, choices: list[tuple[str, float]]) -> str:
    return sim.rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _referral(sim: _Sim, t0: datetime, pat: dict, world: dict) -> None:
    rates = sim.rates
    mapped = [s for s in SPECIALTIES if s.mapped]
    specialty = sim.rng.choice(UNMAPPED) if sim.chance(rates.unmapped_share) else sim.rng.choice(mapped)
    priority = _weighted(sim, PRIORITIES)
    requester = sim.rng.choice(world["referrers"])
    reason = sim.rng.choice(REASONS[specialty.code])
    sr_id, task_id = sim.new_id("sr"), sim.new_id("task")
    t0 = t0.replace(microsecond=0)
    sim.ensure_patient(t0, pat)

    def sr_version(version: int, at: datetime, *, status: str = "active") -> dict:
        return fhir.service_request(
            sr_id=sr_id,
            version=version,
            at=at,
            status=status,
            priority=priority,  # the latest: a revoke keeps a changed priority
            specialty=specialty,
            pat=pat,
            requester=requester,
            authored=t0,
            reason=reason,
        )

    sr = sr_version(1, t0)
    sim.emit(t0, sr)
    task_args = {"task_id": task_id, "sr": sr, "pat": pat, "requester": requester, "authored": t0}
    sim.emit(
        t0 + timedelta(seconds=5), fhir.task(version=1, at=t0 + timedelta(seconds=5), status="requested", **task_args)
    )
    sr_version_no, sr_at = 1, t0 + timedelta(seconds=5)
    if sim.chance(rates.priority_change):
        sr_version_no += 1
        sr_at = (t0 + sim.lognormal_days(1.0)).replace(microsecond=0)
        priority = "urgent" if priority == "routine" else "routine"
        sim.emit(sr_at, sr_version(sr_version_no, sr_at))
    if not specialty.mapped:
        return  # nobody books until a steward maps the code
    if sim.chance(rates.withdrawn):
        at = (sr_at + sim.lognormal_days(3.0)).replace(microsecond=0)
        if sim.chance(0.5):
            sim.emit(at, sr_version(sr_version_no + 1, at, status="revoked"))
        else:
            sim.emit(at, fhir.task(version=2, at=at, status="cancelled", **task_args))
        return
    if not sim.chance(rates.booked):
        return
    urgency = 0.25 if priority != "routine" else 1.0
    booked_at = sr_at + sim.lognormal_days(rates.book_delay_days * urgency)
    site = world["sites"][SPECIALTY_SITE.get(CANONICAL.get(specialty.code, ""), "north")]
    for _attempt in range(2):
        outcome = _appointment(sim, booked_at, sr, pat, specialty, site, urgency)
        if outcome is None or outcome >= sim.end or not sim.chance(rates.rebooked):
            return
        booked_at = outcome + sim.lognormal_days(2.0)


def _visit(sim: _Sim, t0: datetime, pat: dict, world: dict) -> None:
    """A follow-up or review at a primary-care site: booked, maybe moved, then its outcome."""
    site = world["sites"][SPECIALTY_SITE.get("primary-care", "north")]
    _appointment(sim, t0, None, pat, GENERAL_PRACTICE, site, 1.0)


def _slot(sim: _Sim, after: datetime, tz: ZoneInfo) -> datetime:
    """A weekday slot in clinic hours (08:00-16:45 at the site) on or after ``after``."""
    local = after.astimezone(tz)
    day = local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slot = time(sim.rng.randint(8, 16), sim.rng.choice([0, 15, 30, 45]))
    return datetime.combine(day, slot, tzinfo=tz).astimezone(after.tzinfo)


def _appointment(
    sim: _Sim, booked_at: datetime, sr: dict | None, pat: dict, specialty: Specialty, site: dict, urgency: float
) -> datetime | None:
    """Book, maybe reschedule, then cancel / no-show / fulfil. Returns when a failed one ended."""
    rates = sim.rates
    booked_at = booked_at.replace(microsecond=0)
    prac = sim.rng.choice(site["clinicians"][specialty.code])
    start = _slot(sim, booked_at + sim.lognormal_days(rates.lead_days * urgency), site["tz"])
    end = start + timedelta(minutes=30)
    appt_id, version = sim.new_id("appt"), 1

    def appt(status: str, at: datetime, *, cancel_reason: str = "") -> dict:
        return fhir.appointment(
            appt_id=appt_id,
            version=version,
            at=at,
            status=status,
            start=start,
            end=end,
            sr=sr,
            pat=pat,
            prac=prac,
            loc=site["loc"],
            specialty=specialty,
            created=booked_at,
            cancel_reason=cancel_reason,
        )

    booked = appt("booked", booked_at)
    sim.emit(booked_at, booked)
    clinical.before_visit(sim, booked_at, start, pat, booked)
    last_at = booked_at
    if sim.chance(rates.rescheduled):
        moved_at = last_at = (booked_at + (start - booked_at) * sim.rng.uniform(0.2, 0.8)).replace(microsecond=0)
        start = _slot(sim, start + sim.lognormal_days(5.0), site["tz"])
        end, version = start + timedelta(minutes=30), version + 1
        sim.emit(moved_at, appt("booked", moved_at))
    version += 1
    roll = sim.rng.random()
    if roll < rates.appt_cancelled:
        at = (last_at + (start - last_at) * sim.rng.uniform(0.3, 0.95)).replace(microsecond=0)
        sim.emit(at, appt("cancelled", at, cancel_reason=sim.rng.choice(["Patient request", "Clinician unavailable"])))
        return at
    if roll < rates.appt_cancelled + rates.no_show:
        at = end + timedelta(hours=1)
        sim.emit(at, appt("noshow", at))
        return at
    fulfilled = appt("fulfilled", end)
    sim.emit(end, fulfilled)
    finished_at = end + timedelta(minutes=sim.rng.randint(5, 90))
    sim.emit(
        finished_at,
        fhir.encounter(
            enc_id=sim.new_id("enc"),
            at=finished_at,
            appt=fulfilled,
            sr=sr,
            pat=pat,
            prac=prac,
            loc=site["loc"],
            start=start,
            end=end,
        ),
    )
    return None
