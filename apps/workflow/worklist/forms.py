"""The worklist's forms, for any workflow: filters and sort (GET parameters for the page and the
API alike; a value that is not understood is shown, never guessed), bulk actions, saved views."""

from typing import Any, cast

from django import forms

from apps.core.scoping import site_list_for

from ..models import Priority
from ..selectors import SORTS
from .spec import WorklistSpec

SORT_LABELS = {"priority": "Priority", "due": "Due first", "oldest": "Oldest first", "newest": "Newest first"}
DUE_CHOICES = [("overdue", "Overdue"), ("due_soon", "Due soon")]
FILTER_KEYS = ("site", "queue", "priority", "state", "assignee", "due", "min_age_days")


class WorklistFilterForm(forms.Form):
    """The worklist's filters and sort. ``filters()`` gives the valid ones to the selector."""

    site = forms.ChoiceField(required=False, label="Site")
    queue = forms.ChoiceField(required=False, label="Queue")
    priority = forms.ChoiceField(required=False, label="Priority", choices=[("", "Any priority"), *Priority.choices])
    state = forms.ChoiceField(required=False, label="State")
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

    def __init__(self, *args: Any, spec: WorklistSpec, user: Any, workers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sites = site_list_for(user)  # shared with the time zone middleware: no query of its own
        self._choices("site", [("", "All my sites"), *((site.code, site.name) for site in sites)])
        self._choices("queue", [("", "Any queue"), *spec.queues])
        self._choices("state", [("", "Any state"), *spec.states])
        people = [(str(u.pk), str(u)) for u in workers]
        self._choices("assignee", [("", "Anyone"), ("me", "Me"), ("unassigned", "Unassigned"), *people])

    def _choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        cast(forms.ChoiceField, self.fields[name]).choices = choices

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


class BulkForm(forms.Form):
    """Assign, move, or one of the workflow's safe bulk actions, on the selected items."""

    action = forms.ChoiceField(label="Action")
    ids = forms.TypedMultipleChoiceField(coerce=int, label="Selection")
    assignee = forms.ChoiceField(required=False, label="Assign to")
    queue = forms.ChoiceField(required=False, label="Move to queue")
    reason = forms.CharField(max_length=500, required=False, label="Reason")

    def __init__(self, *args: Any, spec: WorklistSpec, workers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id is a valid choice here: the bulk view reports ids out of scope as not found.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        cast(forms.ChoiceField, self.fields["ids"]).choices = [(v, v) for v in raw if str(v).isdigit()]
        actions = [("assign", "Assign"), ("move", "Move"), *((a.key, a.label) for a in spec.bulk_actions)]
        cast(forms.ChoiceField, self.fields["action"]).choices = actions
        cast(forms.ChoiceField, self.fields["queue"]).choices = [("", "Choose a queue…"), *spec.queues]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Choose a person…"),
            ("none", "Nobody (unassign)"),
            *((str(u.pk), str(u)) for u in workers),
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("action") == "assign" and not data.get("assignee"):
            self.add_error("assignee", "Choose who gets them.")
        if data.get("action") == "move" and not data.get("queue"):
            self.add_error("queue", "Choose a queue.")
        return data

    def problems(self) -> str:
        return "; ".join(f"{self.fields[n].label or n}: {' '.join(map(str, e))}" for n, e in self.errors.items())
