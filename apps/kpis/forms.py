"""The scorecard's filters: period, site, service line, and an optional baseline to compare."""

from datetime import date, timedelta
from typing import Any, cast

from django import forms

from apps.core.models import ServiceLine
from apps.core.scoping import sites_for

MAX_DAYS = 366
DEFAULT_WEEKS = 12


def default_period(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_WEEKS * 7 - 1), today


class ScorecardForm(forms.Form):
    COMPARE = [("", "No comparison"), ("period", "Another period"), ("site", "Another site")]

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    site = forms.ChoiceField(label="Site", required=False)
    service_line = forms.ModelChoiceField(
        label="Service line", queryset=ServiceLine.objects.none(), required=False, empty_label="All service lines"
    )
    HAND = [("", "All items"), ("ehr", "Received from the EHR"), ("hand", "Entered by hand")]
    entered = forms.ChoiceField(label="Items", choices=HAND, required=False)
    compare = forms.ChoiceField(label="Compare with", choices=COMPARE, required=False)
    base_start = forms.DateField(label="Baseline from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    base_end = forms.DateField(label="Baseline to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    base_site = forms.ChoiceField(label="Baseline site", required=False)
    controls = forms.MultipleChoiceField(
        label="Control sites (same two periods, no pilot)",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_sites = list(sites_for(user))
        choices = [(s.code, s.name) for s in self.user_sites]
        cast(forms.ChoiceField, self.fields["site"]).choices = [("", "All my sites"), *choices]
        cast(forms.ChoiceField, self.fields["base_site"]).choices = [("", "—"), *choices]
        cast(forms.MultipleChoiceField, self.fields["controls"]).choices = choices
        service_line = cast(forms.ModelChoiceField, self.fields["service_line"])
        service_line.queryset = ServiceLine.objects.filter(sites__in=self.user_sites).distinct()
        service_line.to_field_name = "code"

    def _period(self, start: date | None, end: date | None, which: str) -> None:
        if start and end:
            if end < start:
                self.add_error(f"{which}end" if which else "end", "The end date is before the start date.")
            elif (end - start).days + 1 > MAX_DAYS:
                self.add_error(f"{which}end" if which else "end", f"Choose at most {MAX_DAYS} days.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        self._period(data.get("start"), data.get("end"), "")
        compare = data.get("compare")
        if compare == "period":
            for name in ("base_start", "base_end"):
                if not data.get(name):
                    self.add_error(name, "Give the baseline period to compare with.")
            self._period(data.get("base_start"), data.get("base_end"), "base_")
        elif compare == "site":
            if not data.get("base_site"):
                self.add_error("base_site", "Choose the baseline site.")
            elif data.get("base_site") == data.get("site"):
                self.add_error("base_site", "Choose a different site from the one shown.")
        controls = data.get("controls") or []
        if controls and compare != "period":
            self.add_error("controls", "Control sites compare two periods: choose another period as the baseline.")
        elif controls and (not data.get("site") or data.get("site") in controls):
            self.add_error("controls", "Choose one pilot site above and control sites other than it.")
        return data

    def sites(self, code: str) -> tuple:
        """The chosen site, or all the user's sites for a blank choice."""
        return tuple(s for s in self.user_sites if not code or s.code == code)


class TargetsForm(forms.Form):
    """One optional number per KPI: blank means "use the fallback" (the site's, or the shipped default)."""

    def __init__(self, *args: Any, kpis: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kpis = kpis
        for kpi in kpis:
            self.fields[f"t_{kpi.key}"] = forms.FloatField(
                label=kpi.name,
                required=False,
                min_value=0,
                max_value=100 if kpi.unit == "%" else None,
                widget=forms.NumberInput(attrs={"step": "any"}),
            )

    def values(self) -> dict[str, float | None]:
        return {k.key: self.cleaned_data.get(f"t_{k.key}") for k in self.kpis}


class MinutesForm(forms.Form):
    """One optional number of minutes per kind of staff action: blank means the shipped default."""

    def __init__(self, *args: Any, actions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actions = actions
        for workflow, action in actions:
            self.fields[f"m_{workflow}_{action}"] = forms.FloatField(
                required=False, min_value=0, max_value=480, widget=forms.NumberInput(attrs={"step": "any"})
            )

    def values(self) -> dict[tuple[str, str], float | None]:
        return {(w, a): self.cleaned_data.get(f"m_{w}_{a}") for w, a in self.actions}


class StaffingForm(forms.Form):
    """A site's standing weekly staffed hours, its cost per staff hour, and one week's own figure."""

    standing = forms.FloatField(
        label="Staffed hours in a usual week", required=False, min_value=0, max_value=100_000,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )  # fmt: skip
    per_hour = forms.DecimalField(
        label="Cost of one staff hour", required=False, min_value=0, max_digits=8, decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )  # fmt: skip
    week = forms.DateField(
        label="A week of its own (its Monday)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    week_hours = forms.FloatField(
        label="Staffed hours that week", required=False, min_value=0, max_value=100_000,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )  # fmt: skip
    clear_week = forms.BooleanField(label="Clear that week's figure (use the usual week)", required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        week = data.get("week")
        if week and week.weekday() != 0:
            self.add_error("week", "Give the Monday that starts the week.")
        if week and data.get("week_hours") is None and not data.get("clear_week"):
            self.add_error("week_hours", "Give that week's staffed hours, or tick to clear them.")
        if not week and (data.get("week_hours") is not None or data.get("clear_week")):
            self.add_error("week", "Give the Monday of the week these hours are for.")
        return data
