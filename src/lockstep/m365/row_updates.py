"""Save the same fields of many rows in one round trip: one UPDATE statement, sent with
`executemany` (psycopg 3 pipelines the rows; SQLite runs them in-process).

`Model.save(update_fields=...)` costs about 0.7 ms of Python per row and a round trip each;
the user pass saves every binding of a chunk at its end (`user_finish.finish`), which made it
the largest single cost of a worker syncing many tenants (bench/bench_tenants.py). Django's
`bulk_update` is no help: its CASE WHEN expressions cost more CPU than the saves they replace.
Each value goes through its field's own `get_db_prep_save`, as `save()` does, so JSON,
datetimes and foreign keys are stored exactly as `save()` stores them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Field, Model


def save_fields(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """`row.save(update_fields=fields)` for every row (all of one model), without the signals
    (nothing listens to these models' saves) and without its check that the row still exists."""
    if not rows:
        return
    meta = rows[0]._meta
    columns = [_concrete(meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    assert meta.pk is not None
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table),
        ", ".join(f"{quote(str(column.column))} = %s" for column in columns),
        quote(str(meta.pk.column)),
    )
    params = [
        [column.get_db_prep_save(getattr(row, column.attname), connection) for column in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _concrete(field: object) -> Field:  # type: ignore[type-arg]
    if not isinstance(field, Field) or not field.concrete:
        raise ValueError(f"{field} is not a column of its model")
    return field
