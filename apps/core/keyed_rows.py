"""Settings kept as one row per key (a KPI target, a site's standard minutes, a workflow's owner):
set a value, change it, or clear it back to the fallback, through ``save()``/``delete()`` so that
django-auditlog records each change with who made it (``set_by``)."""

from typing import Any


def keyed_row_set(model: Any, *, key: dict[str, Any], field: str, value: Any, by: Any, lock: bool = False) -> bool:
    """Make the row of ``key`` hold ``value`` in ``field`` (``None``: no row); True when it changed.
    ``lock``: read the row FOR UPDATE (call inside a transaction)."""
    rows = model.objects.select_for_update() if lock else model.objects
    current = rows.filter(**key).first()
    if value is None:
        if current is None:
            return False
        current.delete()
        return True
    if current is None:
        model.objects.create(**key, **{field: value}, set_by=by)
        return True
    if getattr(current, field) == value:
        return False
    setattr(current, field, value)
    current.set_by = by
    current.save()
    return True
