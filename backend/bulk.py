"""Bulk writes for the ingestion path: PostgreSQL COPY where it is available.

``insert_rows`` writes many rows into a table. On PostgreSQL it streams them with COPY (about
ten times cheaper than multi-row INSERT, on the server and in Python); elsewhere (SQLite) it
falls back to an executemany INSERT. Rows are dicts keyed by column name; enum members are
stored by value and dicts/lists as JSON, as the models declare.

``insert_returning`` and ``update_rows`` go through a temporary table filled by COPY, so
``ON CONFLICT``/``RETURNING`` and per-row UPDATEs still run as one statement each.
PostgreSQL only: the session must be in a transaction (temp tables are dropped at commit).
``add_to_column`` moves a counter (an account balance) for many rows the same way. A few
rows (one counter claim) skip the temp table, whose catalog writes would cost more than
the rows: they go as plain executemany statements, as on SQLite.

``any_of`` is ``column IN (...)`` for long lists (one array parameter on PostgreSQL, sent as
the array's text, ``array_literal``), and ``allocate_ids`` draws primary keys ahead, so rows
written together can refer to each other.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.sqltypes import NullType

from .extensions import db


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


_PLAIN = frozenset({str, int, bool, float, datetime, type(None)})
# json.dumps(value, ensure_ascii=False) builds a JSONEncoder on every call (any argument
# but the defaults does); one encoder, the same text, ~2 documents per stored record.
_TO_JSON = json.JSONEncoder(ensure_ascii=False).encode


def json_text(value: dict[str, Any] | list[Any]) -> str:
    """The JSON text ``insert_rows`` stores for a dict or list (a str value is stored as it
    is: a document written to two tables can be encoded once)."""
    if not value:  # most flags and steps: no encoder call for an empty one
        return "[]" if isinstance(value, list) else "{}"
    return _TO_JSON(value)


def _value(value: Any) -> Any:
    if type(value) in _PLAIN:  # most values: one set lookup, no isinstance chain
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json_text(value)
    return value


def array_literal(values: Sequence[Any]) -> str | None:
    """PostgreSQL's text form of a one-dimensional array of ints (``{1,2}``) or of strings
    (``{"a","b"}``, every element quoted, ``\\`` and ``"`` escaped), built with C-level string
    methods; None when an element is neither (None, a float, an enum that is not a str).

    psycopg dumps a list parameter element by element in Python (a regular expression per
    element to decide the quoting): ~2-4 µs an element, ~9 elements per ingested record
    (record ids, identity hashes, residents); this is ~0.3-1 µs (loadtests/README.md,
    round 7)."""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(isinstance(v, str) for v in values):
        return '{"' + '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values) + '"}'
    return None


def any_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN values`` for long lists: on PostgreSQL ``= ANY(array)``, one parameter
    however many values (an expanded IN of 10,000 placeholders costs more to build, send and
    plan than the query itself), sent as the array's text and cast to the column's array
    type (a string column's without its length, as the planner infers for a list);
    elsewhere a plain IN."""
    values = list(values)
    if not _is_postgres():
        return column.in_(values)
    literal = array_literal(values)
    if literal is None:
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    # An untyped parameter (no ``::VARCHAR`` of its own) inside the cast: PostgreSQL then
    # takes the parameter itself as the array, a constant to the planner (a hashed
    # ``= ANY`` and row estimates); a cast of a typed text would be an expression
    # evaluated at run time, which the planner estimates blind and searches linearly.
    element = String() if isinstance(column.type, String) else column.type
    return column == any_(sql_cast(bindparam(None, literal, type_=NullType()), ARRAY(element)))


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its ``CursorResult.rowcount``, which the
    type of ``Session.execute`` does not show)."""
    return cast(CursorResult[Any], result).rowcount


# table name -> the name of its id sequence (from the catalog, as a SQL string literal)
_SEQUENCES: dict[str, str] = {}


def allocate_ids(table: Table, count: int) -> list[int]:
    """``count`` new ids of ``table``'s integer primary key, before inserting the rows (so
    rows can refer to each other, and to what is written with them, in one COPY).

    PostgreSQL draws them from the column's sequence. SQLite (development and tests) counts
    on from the largest id: a concurrent writer's clash is refused by the primary key."""
    if count <= 0:
        return []
    (key,) = table.primary_key.columns
    if _is_postgres():
        # The sequence named once, as a constant: ``nextval(pg_get_serial_sequence(...))``
        # looked the sequence up in the catalog for every id (~20 µs an id; ~3 µs now).
        sequence = _SEQUENCES.get(table.name)
        if sequence is None:
            sequence = _SEQUENCES[table.name] = str(
                db.session.scalar(
                    text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": key.name}
                )
            ).replace("'", "''")
        sql = f"SELECT nextval('{sequence}'::regclass) FROM generate_series(1, :n)"  # noqa: S608
        # one fetch of every id (iterating the result fetched them one at a time)
        return [int(i) for i in db.session.scalars(text(sql), {"n": count}).all()]
    first = int(db.session.scalar(select(func.coalesce(func.max(key), 0))) or 0) + 1
    return list(range(first, first + count))


def _copy(table_name: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    # Columns are uniform (every row built the same way): those whose first value needs
    # converting (an enum, a JSON document) are converted; the rest go to psycopg as they are.
    convert = [
        i
        for i, column in enumerate(columns)
        if type(next((r[column] for r in rows if r.get(column) is not None), None)) not in _PLAIN
    ]
    connection: Any = db.session.connection().connection.driver_connection  # psycopg's
    pick = itemgetter(*columns) if len(columns) > 1 else None  # one C call a row
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            try:
                values = list(pick(row)) if pick is not None else [row[columns[0]]]
            except KeyError:  # a row without some key: None there, as before
                values = [row.get(column) for column in columns]
            for i in convert:
                values[i] = _value(values[i])
            copy.write_row(values)


def _check(table: Table, columns: Sequence[str]) -> None:
    """Only our own column names ever reach the SQL text built here."""
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"not columns of {table.name}: {sorted(unknown)}")


# Below this many rows the temp-table statements are not worth their catalog writes.
FEW = 50


@contextmanager
def _temp(table: Table, columns: Sequence[str]) -> Iterator[str]:
    """A temp table with just these columns of ``table`` (types only, no constraints), dropped
    once used. One name per table, so the same few SQL texts recur (and stay in SQLAlchemy's
    statement cache) however long the process runs; should the statement fail, the rollback
    takes the table with it (and one left by a caller that caught an error and carried on is
    dropped first)."""
    name = f"tmp_{table.name}"
    db.session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    sql = (
        f"CREATE TEMP TABLE {name} ON COMMIT DROP AS "  # noqa: S608 - names from our models
        f"SELECT {', '.join(columns)} FROM {table.name} WITH NO DATA"
    )
    db.session.execute(text(sql))
    yield name
    db.session.execute(text(f"DROP TABLE {name}"))


def insert_rows(table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if not _is_postgres():
        db.session.execute(insert(table), list(rows))
        return
    _check(table, list(rows[0]))
    _copy(table.name, list(rows[0]), rows)


def insert_returning(
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING (returning), in bulk."""
    if not rows:
        return []
    columns = list(rows[0])
    postgres = _is_postgres()
    if not postgres or len(rows) <= FEW:
        dialect_insert = postgresql.insert if postgres else sqlite.insert
        stmt = (
            dialect_insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*[table.c[c] for c in returning])
        )
        return [tuple(row) for row in db.session.execute(stmt, list(rows))]
    _check(table, [*columns, *conflict, *returning])
    with _temp(table, columns) as temp:
        _copy(temp, columns, rows)
        names = ", ".join(columns)
        sql = (
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {temp} "  # noqa: S608
            f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING "
            f"RETURNING {', '.join(returning)}"
        )
        return [tuple(row) for row in db.session.execute(text(sql))]


def update_rows(table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE table SET (the other columns) FROM the rows, matched on ``key``, in bulk."""
    if not rows:
        return
    columns = list(rows[0])
    if not _is_postgres() or len(rows) <= FEW:
        values: dict[str, Any] = {c: bindparam(f"b_{c}") for c in columns if c != key}
        db.session.execute(
            update(table).where(table.c[key] == bindparam(f"b_{key}")).values(**values),
            [{f"b_{c}": row[c] for c in columns} for row in rows],
        )
        return
    _check(table, columns)
    with _temp(table, columns) as temp:
        _copy(temp, columns, rows)
        sets = ", ".join(f"{c} = t.{c}" for c in columns if c != key)
        db.session.execute(
            text(
                f"UPDATE {table.name} AS r SET {sets} FROM {temp} AS t "  # noqa: S608
                f"WHERE r.{key} = t.{key}"
            )
        )


def add_to_column(table: Table, key: str, column: str, deltas: Sequence[tuple[Any, int]]) -> None:
    """``column = column + delta`` for each (key, delta), in one statement on PostgreSQL (a
    COPY into a temp table, then UPDATE … FROM); one key must not appear twice."""
    if not deltas:
        return
    _check(table, [key, column])
    if not _is_postgres() or len(deltas) <= FEW:
        db.session.execute(
            text(
                f"UPDATE {table.name} SET {column} = {column} + :delta "  # noqa: S608
                f"WHERE {key} = :key"
            ),
            [{"key": k, "delta": d} for k, d in deltas],
        )
        return
    with _temp(table, [key, column]) as temp:
        _copy(temp, [key, column], [{key: k, column: d} for k, d in deltas])
        db.session.execute(
            text(
                f"UPDATE {table.name} AS r SET {column} = r.{column} + t.{column} "  # noqa: S608
                f"FROM {temp} AS t WHERE r.{key} = t.{key}"
            )
        )
