"""The few SQL spellings that differ between PostgreSQL and SQLite. Everything else the KPI
queries use (CTEs, VALUES, CASE, MIN/MAX/SUM, window LAG) is common to both."""

from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def secs(end: str, start: str) -> str:
    """Seconds from ``start`` to ``end`` (two timestamp expressions), as a float."""
    if is_postgres():
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    # julianday() keeps milliseconds; rounding to them gives PostgreSQL's answer for stored times.
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


def week_of(event: str, lo: str) -> str:
    """The 0-based week of ``event`` counted from the period start ``lo`` (event ≥ lo)."""
    if is_postgres():
        return f"FLOOR(EXTRACT(EPOCH FROM ({event} - {lo})) / 604800)::int"
    return f"CAST((julianday({event}) - julianday({lo})) / 7.0 AS INTEGER)"


# "%%": these statements always run with parameters, which Django's SQLite cursor formats with
# "%" (and with DEBUG on, logs by "%"-formatting the SQL): a single "%Y" fails as a format string.
SQLITE_TIMESTAMP = "%%Y-%%m-%%d %%H:%%M:%%f"


def now_sql() -> str:
    """The current time, comparable with stored timestamps."""
    return "now()" if is_postgres() else f"strftime('{SQLITE_TIMESTAMP}', 'now')"


def ts_param() -> str:
    """A timestamp parameter placeholder."""
    return "CAST(%s AS timestamptz)" if is_postgres() else "%s"


def format_sql(template: str) -> str:
    """Expand each ``SECS(end, start)`` in a source's SQL to this database's seconds between them."""
    out, i = [], 0
    while True:
        j = template.find("SECS(", i)
        if j < 0:
            out.append(template[i:])
            return "".join(out)
        out.append(template[i:j])
        depth, k = 0, j + 4
        while True:
            if template[k] == "(":
                depth += 1
            elif template[k] == ")":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        inner = template[j + 5 : k]
        end, start = _split_top(inner)
        out.append(secs(end.strip(), start.strip()))
        i = k + 1


def _split_top(args: str) -> tuple[str, str]:
    depth = 0
    for n, ch in enumerate(args):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            return args[:n], args[n + 1 :]
    raise ValueError(f"SECS needs two arguments: {args!r}")


def plus_seconds(at: str, seconds: int) -> str:
    """A timestamp expression ``seconds`` after ``at`` (comparable with stored timestamps)."""
    if is_postgres():
        return f"({at} + INTERVAL '{int(seconds)} seconds')"
    return f"strftime('{SQLITE_TIMESTAMP}', {at}, '+{int(seconds)} seconds')"
