"""Relations for SQL readers: how one app lets another (kpis) read its rows in raw SQL without
naming its tables.

An app that is read this way declares, in its ``selectors`` module, a constant built here: an
``(SELECT … FROM <table>)`` of the model's rows under documented column names, which the reader
puts after ``FROM`` or ``JOIN`` (``FROM {TRANSITION_LOG_SQL} t``). The table and column names
come from the model, so renaming a field or a table keeps readers working, and dropping a
field the relation names fails when the app loads, not in a scorecard.

Why not a database view: on SQLite, Django rebuilds a table (new table, copy, drop, rename) for
most schema changes, and the rename fails with "error in view" while a view reads the table;
on PostgreSQL a column a view reads cannot change type. A plain subquery has neither problem,
and both databases inline it, so the reader's query plan (indexes included) is unchanged.
"""

from django.db.models import Model


def _quoted(name: str) -> str:
    # Standard SQL identifier quoting: PostgreSQL and SQLite both read double quotes.
    return '"' + name.replace('"', '""') + '"'


def column_of(model: type[Model], name: str) -> str:
    """The database column of ``model``'s field ``name``."""
    field = model._meta.get_field(name)
    column = getattr(field, "column", None)
    if not isinstance(column, str):  # a reverse relation or a many-to-many has no column
        raise ValueError(f"{model.__name__}.{name} has no column of its own.")
    return column


def sql_relation(model: type[Model], **columns: str) -> str:
    """``(SELECT <column of field> AS <name>, … FROM <table>)`` for ``name=field`` pairs of ``model``."""
    if not columns:
        raise ValueError("Name at least one column.")
    meta = model._meta
    selected = ", ".join(f"{_quoted(column_of(model, field))} AS {name}" for name, field in columns.items())
    return f"(SELECT {selected} FROM {_quoted(meta.db_table)})"  # noqa: S608 - names from the model and kwargs, no values
