"""Forms of the referral item page, and the shared worklist filters as the referral API uses them."""

from typing import Any, cast

from django import forms

from apps.workflow.models import OutreachChannel, OutreachOutcome
from apps.workflow.worklist import forms as worklist_forms
from apps.workflow.worklist import worklist_spec

from . import selectors
from .models import Referral

DECLINE_REASONS: list[tuple[str, str]] = [
    ("no-capacity", "No capacity"),
    ("not-indicated", "Not clinically indicated"),
    ("wrong-service", "Wrong service"),
    ("insufficient-information", "Insufficient information"),
    ("patient-declined", "Patient declined"),
    ("duplicate", "Duplicate referral"),
]


class WorklistFilterForm(worklist_forms.WorklistFilterForm):
    """The shared worklist's filters and sort, for referrals (the API's list takes them too)."""

    def __init__(self, *args: Any, user: Any, workers: list[Any] | None = None, **kwargs: Any) -> None:
        people = list(selectors.referral_workers(user=user)) if workers is None else workers
        super().__init__(*args, spec=worklist_spec(Referral.WORKFLOW), user=user, workers=people, **kwargs)


class OutreachForm(forms.Form):
    channel = forms.ChoiceField(choices=OutreachChannel.choices, label="Channel")
    outcome = forms.ChoiceField(choices=[("", "Choose…"), *OutreachOutcome.choices], label="Outcome")
    note = forms.CharField(max_length=500, required=False, label="Note")


class NoteForm(forms.Form):
    text = forms.CharField(max_length=4000, label="Note", widget=forms.Textarea(attrs={"rows": 2}))


class ReasonNoteForm(forms.Form):
    """accept, request_auth, authorize, receive_info, abandon: an optional note."""

    note = forms.CharField(max_length=1000, required=False, label="Note")


class RequestInfoForm(forms.Form):
    question = forms.CharField(
        max_length=1000, label="Question for the referrer", widget=forms.Textarea(attrs={"rows": 2})
    )


class DeclineForm(forms.Form):
    reason_code = forms.ChoiceField(choices=[("", "Choose a reason…"), *DECLINE_REASONS], label="Reason")
    note = forms.CharField(max_length=1000, required=False, label="Note")


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=1000, label="Reason")


class MergeForm(forms.Form):
    """Fold this referral into the one it duplicates."""

    into = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(max_length=1000, required=False, label="Note")

    def __init__(self, *args: Any, referral: Referral, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["into"].initial = referral.possible_duplicate_of_id


class ForwardForm(forms.Form):
    service_line = forms.ChoiceField(label="Service line")
    reason = forms.CharField(max_length=1000, label="Reason")

    def __init__(self, *args: Any, referral: Referral, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # exclude(pk=None) excludes nothing, as meant; the plugin wants a non-None pk.
        lines = referral.site.service_lines.exclude(pk=referral.service_line_id).order_by("name")  # type: ignore[misc]
        cast(forms.ChoiceField, self.fields["service_line"]).choices = [
            ("", "Choose…"),
            *((line.code, line.name) for line in lines),
        ]
