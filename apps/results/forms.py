from typing import cast

from django import forms

from .workflow import FollowUp, NotifyMethod


class ReviewForm(forms.Form):
    follow_up = forms.ChoiceField(label="Follow-up", choices=FollowUp.choices, widget=forms.RadioSelect)
    note = forms.CharField(label="Note for the MA", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class NotifyForm(forms.Form):
    method = forms.ChoiceField(label="How was the patient told?", choices=[("", "Choose…"), *NotifyMethod.choices])
    note = forms.CharField(label="Note", required=False, max_length=500)


class FollowUpForm(forms.Form):
    note = forms.CharField(label="What was booked, and when", max_length=500)


class CloseForm(forms.Form):
    note = forms.CharField(label="Note", required=False, max_length=500)


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class CoverageForm(forms.Form):
    covered_by: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Covered by", queryset=None, empty_label="Choose a colleague…"
    )
    starts_at = forms.DateTimeField(label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args, clinicians=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["covered_by"]).queryset = clinicians

    def clean(self) -> dict:
        """A period that ends first is a typing mistake: said beside the field, the form kept."""
        data = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The cover must end after it starts.")
        return data
