"""The intake worklist: the shared worklist (``apps.workflow.worklist``) bound to intakes, next to
the day page; claims and releases made on the item page come back to it with a redirect."""

from apps.workflow.worklist.views import WorklistViews

from ..models import Intake

views = WorklistViews(Intake.WORKFLOW)
worklist, counts, bulk = views.worklist, views.counts, views.bulk
claim, release = views.claim, views.release
view_save, view_delete = views.view_save, views.view_delete
