"""The referral worklist: the shared worklist (``apps.workflow.worklist``) bound to referrals; a
claim or release made on the item page with htmx answers with the item."""

from apps.workflow.worklist.views import WorklistViews

from ..models import Referral
from .item import item_response

views = WorklistViews(Referral.WORKFLOW, item_response=item_response)
worklist, counts, bulk = views.worklist, views.counts, views.bulk
claim, release = views.claim, views.release
view_save, view_delete = views.view_save, views.view_delete
