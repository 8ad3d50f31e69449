"""The intake day view, the item page and the supervisors' checklist page: server-rendered,
with htmx for the one-click checklist and check-in actions. Nothing changes state on GET;
every page showing patients writes access-log rows."""

from .checklists import checklists
from .day import act, check, day, detail, note, outreach

__all__ = ["act", "check", "checklists", "day", "detail", "note", "outreach"]
