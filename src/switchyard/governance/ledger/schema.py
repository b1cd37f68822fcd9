"""The ``usage`` table's columns, derived from :class:`UsageRecord`'s fields, and the row codec both backends use.

Deriving the columns (rather than listing them) means a field added to the record gets a column too: each
backend adds missing columns when it opens the database, so an upgraded gateway writes the new field into an
old database without a migration step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi
import orjson

from ..records import UsageRecord

__all__ = ["USAGE_COLUMNS", "Column", "Kind", "decode_usage", "encode_usage"]

Kind = Literal["text", "int", "float", "bool", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind

    @property
    def quoted(self) -> str:
        # ``user`` is reserved in PostgreSQL; quoting every name keeps one spelling for both dialects.
        return f'"{self.name}"'


def _kind(type_: mi.Type) -> Kind:
    if isinstance(type_, mi.UnionType):
        members = [t for t in type_.types if not isinstance(t, mi.NoneType)]
        type_ = members[0] if len(members) == 1 else type_
    if isinstance(type_, mi.BoolType):
        return "bool"
    if isinstance(type_, mi.IntType):
        return "int"
    if isinstance(type_, mi.FloatType):
        return "float"
    if isinstance(type_, mi.StrType) or (
        isinstance(type_, mi.LiteralType) and all(isinstance(v, str) for v in type_.values)
    ):
        return "text"
    return "json"


def _columns() -> tuple[Column, ...]:
    info = mi.type_info(UsageRecord)
    assert isinstance(info, mi.StructType)
    return tuple(Column(f.name, _kind(f.type)) for f in info.fields)


USAGE_COLUMNS: tuple[Column, ...] = _columns()
"""One column per :class:`UsageRecord` field, in field order; ``request_id`` is the primary key."""

_JSON = tuple(i for i, c in enumerate(USAGE_COLUMNS) if c.kind == "json")


def encode_usage(record: UsageRecord) -> list[Any]:
    """Column values in :data:`USAGE_COLUMNS` order (JSON columns as text)."""
    values: list[Any] = list(msgspec.structs.astuple(record))
    for i in _JSON:
        values[i] = orjson.dumps(values[i]).decode()
    return values


def decode_usage(names: Sequence[str], values: Sequence[Any]) -> UsageRecord:
    """A record from a row. NULLs mean "the field's default", which also reads rows written before a field existed."""
    kinds = {c.name: c.kind for c in USAGE_COLUMNS}
    data: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        if value is None:
            continue
        data[name] = orjson.loads(value) if kinds.get(name) == "json" and isinstance(value, str | bytes) else value
    # strict=False: SQLite hands booleans back as 0/1.
    return msgspec.convert(data, UsageRecord, strict=False)
