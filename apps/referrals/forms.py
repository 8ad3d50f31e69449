"""Forms of the referral worklist and item page. The worklist filters validate GET parameters
for the page and the API alike; a value that is not understood is shown, never guessed."""

from typing import Any, cast

from django import forms

from apps.core.scoping import sites_for
from apps.workflow.models import OutreachChannel, OutreachOutcome, Priority
from apps.workflow.selectors import SORTS

from . import selectors
from .models import Referral
from .selectors import QUEUES
from .workflow import OPEN, State

SORT_LABELS = {"priority": "Priority", "due": "Due first", "oldest": "Oldest first", "newest": "Newest first"}
DUE_CHOICES = [("overdue", "Overdue"), ("due_soon", "Due soon")]
DECLINE_REASONS: list[tuple[str, str]] = [
    ("no-capacity", "No capacity"),
    ("not-indicated", "Not clinically indicated"),
    ("wrong-service", "Wrong service"),
    ("insufficient-information", "Insufficient information"),
    ("patient-declined", "Patient declined"),
    ("duplicate", "Duplicate referral"),
]
FILTER_KEYS = ("site", "queue", "priority", "state", "assignee", "due", "min_age_days")


class WorklistFilterForm(forms.Form):
    """The worklist's filters and sort. ``filters()`` gives the valid ones to the selector."""

    site = forms.ChoiceField(required=False, label="Site")
    queue = forms.ChoiceField(required=False, label="Queue", choices=[("", "Any queue"), *QUEUES])
    priority = forms.ChoiceField(required=False, label="Priority", choices=[("", "Any priority"), *Priority.choices])
    state = forms.ChoiceField(
        required=False,
        label="State",
        choices=[("", "Any state"), *((state.value, state.label) for state in State if state in OPEN)],
    )
    assignee = forms.ChoiceField(required=False, label="Assignee")
    due = forms.ChoiceField(required=False, label="Due", choices=[("", "Any time"), *DUE_CHOICES])
    min_age_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        label="Min. age (days)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "0"}),
    )
    sort = forms.ChoiceField(required=False, label="Sort", choices=[(k, SORT_LABELS[k]) for k in SORTS])

    def __init__(self, *args: Any, user: Any, workers: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sites = sites_for(user).prefetch_related(None).order_by("name")
        cast(forms.ChoiceField, self.fields["site"]).choices = [
            ("", "All my sites"),
            *((site.code, site.name) for site in sites),
        ]
        people = selectors.referral_workers(user=user) if workers is None else workers
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("unassigned", "Unassigned"),
            *((str(u.pk), str(u)) for u in people),
        ]

    def _clean(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (an invalid field is left out, and shown with its error)."""
        data = self._clean()
        return {key: data[key] for key in FILTER_KEYS if data.get(key) not in (None, "")}

    def sort_key(self) -> str:
        return self._clean().get("sort") or "priority"

    def params(self) -> dict[str, Any]:
        """The valid filters and a non-default sort, as saved in a SavedView and put in links."""
        params = {key: str(value) for key, value in self.filters().items()}
        if self.sort_key() != "priority":
            params["sort"] = self.sort_key()
        return params

    def error_summary(self) -> list[str]:
        return [f"{self.fields[name].label}: {' '.join(map(str, errors))}" for name, errors in self.errors.items()]


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=60, label="Name")


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


class BulkForm(forms.Form):
    """A supervisor's bulk assign or move of the selected referrals."""

    ACTIONS = [("assign", "Assign"), ("move", "Move")]

    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, label="Referrals")
    assignee = forms.ChoiceField(required=False, label="Assign to")
    queue = forms.ChoiceField(required=False, label="Move to queue", choices=[("", "Choose a queue…"), *QUEUES])
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, user: Any, workers: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id is a valid choice here: the bulk view reports ids out of scope as not found.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        cast(forms.ChoiceField, self.fields["ids"]).choices = [(v, v) for v in raw if str(v).isdigit()]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Choose a person…"),
            ("none", "Nobody (unassign)"),
            *((str(u.pk), str(u)) for u in (selectors.referral_workers(user=user) if workers is None else workers)),
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("action") == "assign" and not data.get("assignee"):
            self.add_error("assignee", "Choose who gets them.")
        if data.get("action") == "move" and not data.get("queue"):
            self.add_error("queue", "Choose a queue.")
        return data
