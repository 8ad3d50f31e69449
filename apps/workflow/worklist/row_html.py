"""A worklist row's HTML, written in Python: the same markup as a template would give, at a
fraction of the cost (a page of rows through the template engine was about 3,000 variable
lookups and 150 includes, half of the request). Each workflow's own cells still come from its
column templates, loaded once per page and rendered with the item and the row only."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.template.loader import get_template
from django.utils.formats import date_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

from .rows import Row
from .spec import WorklistSpec


@dataclass(frozen=True)
class RowPage:
    """What every row of one page shares."""

    spec: WorklistSpec
    user_id: int | None
    can_bulk: bool
    can_claim: bool
    can_supervise: bool
    show_patients: bool
    show_site: bool
    this_url: str
    csrf_token: str
    date_format: str = "DATE_FORMAT"


def _patient_cell(row: Row, page: RowPage) -> str:
    patient = row.patient
    if patient is not None:
        name = str(escape(patient.family or "(no family name)"))
        if patient.given:
            name += ", " + str(escape(patient.given))
        born = (
            f"Born {escape(date_format(patient.birth_date, page.date_format))}"
            if patient.birth_date
            else "Birth date unknown"
        )
        return f'<a class="row-link" href="{escape(row.detail_url)}">{name}</a>\n    <span class="sub">{born}</span>'
    hidden = "Patient not received yet" if page.show_patients else "Patient hidden"
    label = f"{escape(capfirst(page.spec.noun))} {row.item.pk}"
    return f'<a class="row-link" href="{escape(row.detail_url)}">{label}</a>\n    <span class="sub">{hidden}</span>'


def _action_form(url: str, page: RowPage, *, release: bool) -> str:
    site = '<input type="hidden" name="site_column" value="1">' if page.show_site else ""
    button = (
        '<button type="submit" class="btn btn-small" data-action="release">Release</button>'
        if release
        else '<button type="submit" class="btn btn-small btn-primary" data-action="claim">Claim</button>'
    )
    token = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(page.csrf_token)}">'
    back = f'<input type="hidden" name="next" value="{escape(page.this_url)}">'
    return (
        f'<form method="post" action="{escape(url)}" hx-post="{escape(url)}" hx-target="closest tr" '
        f'hx-swap="outerHTML">\n      {token}<input type="hidden" name="where" value="row">{back}'
        f"{site}\n      {button}\n    </form>"
    )


def _action_cell(row: Row, page: RowPage) -> str:
    item = row.item
    mine = item.assignee_id is not None and item.assignee_id == page.user_id
    if mine or (item.assignee_id and page.can_supervise):
        return _action_form(row.release_url, page, release=True)
    if not item.assignee_id and row.claim_refusal:
        return f'<span class="sub wl-next">{escape(row.claim_refusal)}</span>'
    if not item.assignee_id and page.can_claim:
        return _action_form(row.claim_url, page, release=False)
    return ""


def row_html(row: Row, page: RowPage, cells: list[tuple[str, Any]]) -> str:
    """One ``<tr>``; ``cells`` are the workflow's columns as ``(css, cell function or loaded template)``."""
    item = row.item
    pk = item.pk
    out = [
        f'<tr id="row-{pk}" data-item="{pk}" tabindex="-1" '
        f'class="wl-row{" is-overdue" if row.sla == "overdue" else ""}">'
    ]
    if page.can_bulk:
        out.append(
            f'\n  <td class="wl-sel"><input type="checkbox" form="bulk-form" name="ids" value="{pk}" data-bulk-id '
            f'aria-label="Select {escape(page.spec.noun)} {pk}"></td>'
        )
    out.append(f'\n  <td class="wl-patient">\n    {_patient_cell(row, page)}\n  </td>')
    if page.show_site:
        out.append(f'\n  <td class="wl-site-col">{escape(item.site.name)}</td>')
    out.append("\n  ")
    for css, cell in cells:
        attr = f' class="{escape(css)}"' if css else ""
        html = cell(item) if callable(cell) else cell.render({"item": item, "row": row})
        out.append(f"<td{attr}>{html}</td>")
    if page.user_id is not None and item.assignee_id == page.user_id:
        assignee = "<strong>You</strong>"
    elif item.assignee_id:
        assignee = escape(str(item.assignee))
    else:
        assignee = '<span class="muted">Unassigned</span>'
    out.append(
        format_html(
            '\n  <td><span class="prio prio-{}">{}</span></td>'
            '\n  <td class="wl-state">{}<span class="sub">{}</span></td>'
            '\n  <td class="wl-assignee">{}</td>'
            '\n  <td><span class="due due-{}">{}</span></td>'
            '\n  <td class="num nowrap">{}</td>',
            item.priority,
            item.get_priority_display(),
            item.get_state_display(),
            row.queue,
            mark_safe(assignee),  # noqa: S308 (built from escaped parts above)
            row.sla,
            row.due,
            row.age,
        )
    )
    out.append(f'\n  <td class="wl-act">\n    {_action_cell(row, page)}\n  </td>\n</tr>')
    return "".join(out)


def rows_html(rows: Iterable[Row], page: RowPage) -> SafeString:
    """Every row of a page, the workflow's column templates loaded once."""
    cells = [(column.css, column.cell or get_template(column.template)) for column in page.spec.columns]
    return mark_safe("\n".join(row_html(row, page, cells) for row in rows))  # noqa: S308 (escaped throughout)
