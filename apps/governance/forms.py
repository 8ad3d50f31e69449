"""Forms of the governance pages: owners, a friction report and its answer, the baseline period."""

from typing import Any

from django import forms

from .models import Duty, FrictionStatus, Phase, Severity, Workflow


class OwnersForm(forms.Form):
    """One owner per duty, chosen among the site's staff (blank: nobody named)."""

    def __init__(self, *args: Any, members: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Nobody named"), *[(str(m.pk), m.get_full_name() or m.username) for m in members]]
        for duty, label in Duty.choices:
            self.fields[duty] = forms.TypedChoiceField(
                label=label, choices=choices, required=False, coerce=int, empty_value=None
            )

    def owners(self) -> dict[str, int | None]:
        return {duty: self.cleaned_data.get(duty) for duty in Duty.values}


class FrictionForm(forms.Form):
    note = forms.CharField(label="What got in your way?", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    severity = forms.ChoiceField(
        label="How much (optional)",
        choices=[("", "Not said"), *Severity.choices],
        required=False,
        widget=forms.Select(attrs={"id": "friction-severity"}),
    )
    workflow = forms.ChoiceField(
        label="Which work", choices=Workflow.choices, widget=forms.Select(attrs={"id": "friction-workflow"})
    )
    site = forms.IntegerField(required=False)
    page = forms.CharField(max_length=255, required=False)
    item = forms.IntegerField(required=False, min_value=1)


class RespondForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=[("", "Keep as it is"), *FrictionStatus.choices], required=False)
    reply = forms.CharField(
        label="Reply to the reporter", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class BaselineForm(forms.Form):
    start = forms.DateField(label="Baseline from", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Baseline to", widget=forms.DateInput(attrs={"type": "date"}))


class PhaseForm(forms.Form):
    phase = forms.ChoiceField(choices=Phase.choices)
