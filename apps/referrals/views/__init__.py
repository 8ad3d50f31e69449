"""The referral worklist and item pages: server-rendered, enhanced with htmx.

Every page works without JavaScript (GET filters, POST forms and redirects); with htmx the
filters and pages swap the results, row actions swap their row, item actions swap the item,
and a refused or stale action puts its message in the flash area (HX-Retarget) instead of a
broken swap. Patient names are shown only to patient-facing roles, and every response that
shows them writes access-log rows. Nothing here changes state on GET.
"""

from .item import act, detail, note, outreach
from .worklist import bulk, claim, counts, release, view_delete, view_save, worklist

__all__ = [
    "act",
    "bulk",
    "claim",
    "counts",
    "detail",
    "note",
    "outreach",
    "release",
    "view_delete",
    "view_save",
    "worklist",
]
