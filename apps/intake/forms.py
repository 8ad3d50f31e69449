"""Forms of the day view, the item page and the checklist page."""

from django import forms

from apps.workflow.models import OutreachChannel, OutreachOutcome

SORT_CHOICES = [("time", "Time (earliest first)"), ("-time", "Time (latest first)"), ("readiness", "Least ready first")]


class DayField(forms.DateField):
    """A day: a date (``2026-12-09``), or ``today`` / ``tomorrow`` (kept as words: the site says
    which date they are, in its own time zone)."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def to_python(self, value):
        if isinstance(value, str) and value.strip().lower() in ("today", "tomorrow"):
            return value.strip().lower()
        return super().to_python(value)


class DayForm(forms.Form):
    site = forms.ChoiceField(label="Site", required=False)
    day = DayField(label="Day", required=False, input_formats=["%Y-%m-%d"],
                   error_messages={"invalid": "Enter a date such as 2026-12-09."})  # fmt: skip
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [(s.code, s.name) for s in sites]


class OutreachForm(forms.Form):
    channel = forms.ChoiceField(choices=OutreachChannel.choices)
    outcome = forms.ChoiceField(choices=OutreachOutcome.choices)
    note = forms.CharField(required=False, max_length=500)


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class CancelForm(forms.Form):
    reason = forms.CharField(label="Why is the intake cancelled?", max_length=300)


class ChecklistItemForm(forms.Form):
    site = forms.ChoiceField(label="Site")
    appointment_type = forms.ChoiceField(label="Appointment type", required=False)
    key = forms.SlugField(label="Key", max_length=40, help_text="Short id, e.g. photo-id; an existing key rewords it")
    label = forms.CharField(label="What staff do", max_length=120)
    position = forms.IntegerField(label="Order", min_value=0, max_value=999, initial=100)
    active = forms.BooleanField(label="On the checklist", required=False, initial=True)

    def __init__(self, *args, sites=(), types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [(str(s.pk), s.name) for s in sites]
        self.fields["appointment_type"].choices = [("", "Every type"), *types]
