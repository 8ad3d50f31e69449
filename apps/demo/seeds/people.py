"""Reference data, the demo sites and one demo user per role (published password; DEBUG only)."""

from apps.core.roles import COMPLIANCE_GROUP, EMERGENCY_GROUP, Role
from apps.core.services import service_lines_load, site_upsert, user_upsert

DEMO_PASSWORD = "clinops-demo-2026"  # noqa: S105 - published demo password; seed_demo refuses with DEBUG off

DEMO_SITES = [
    ("north", "North Clinic", "America/New_York", ["cardiology", "dermatology", "orthopedics", "primary-care"]),
    ("south", "South Hospital", "America/Chicago", ["cardiology", "gastroenterology", "neurology", "pulmonology"]),
    ("west", "West Clinic", "America/Los_Angeles", ["endocrinology", "orthopedics", "primary-care"]),
]

# username, first, last, role, sites
DEMO_USERS = [
    ("scheduler", "Sam", "Rivera", Role.SCHEDULER, ["north"]),
    ("ma", "Maya", "Chen", Role.MEDICAL_ASSISTANT, ["north"]),
    ("clinician", "Dr. Lena", "Okafor", Role.CLINICIAN, ["north", "south"]),
    # A colleague at the same sites, so that "Cover while I'm away" has someone to offer.
    ("clinician2", "Dr. Marcus", "Hale", Role.CLINICIAN, ["north", "south"]),
    ("supervisor", "Priya", "Natarajan", Role.SUPERVISOR, ["north", "south", "west"]),
    ("steward", "Tom", "Becker", Role.TERMINOLOGY_STEWARD, ["north", "south", "west"]),
    # A second steward, so that four-eyes approval of code mappings can be tried in the demo.
    ("steward2", "Amara", "Osei", Role.TERMINOLOGY_STEWARD, ["north", "south", "west"]),
    ("integration", "Ines", "Moreau", Role.INTEGRATION_ADMIN, ["north", "south", "west"]),
    ("leader", "Grace", "Adeyemi", Role.LEADER, ["north", "south", "west"]),
]
# Members of a group that is not a role (README "Security"): the audit report's reader.
DEMO_GROUP_USERS: list[tuple[str, str, str, str, list[str]]] = [("compliance", "Olive", "Grant", COMPLIANCE_GROUP, [])]
# Groups added beside a role: the scheduler may break the glass for a patient at another site.
DEMO_EXTRA_GROUPS = {"scheduler": [EMERGENCY_GROUP]}
LABELS = {**Role.LABELS, COMPLIANCE_GROUP: "Compliance officer"}


def demo_people_seed() -> tuple[str, list[tuple[str, str, str, str]]]:
    """Service lines, the demo sites and users (a changed password is kept); a line and the user rows."""
    lines = service_lines_load()
    for code, name, tz, service_lines in DEMO_SITES:
        site_upsert(code=code, name=name, timezone=tz, service_lines=service_lines)
    rows = []
    for username, first, last, role, sites in [*DEMO_USERS, *DEMO_GROUP_USERS]:
        _, created = user_upsert(
            username=username,
            first_name=first,
            last_name=last,
            roles=[role, *DEMO_EXTRA_GROUPS.get(username, [])],
            site_codes=sites,
            password=DEMO_PASSWORD,
        )
        rows.append((username, LABELS[role], ", ".join(sites) or "-", "created" if created else "kept"))
    return f"Reference data: {lines} service lines, {len(DEMO_SITES)} sites.", rows
