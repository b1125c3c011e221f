"""Replace the personal columns of a loaded table by keyed hashes and what analysts may see.

For each personal column the raw layer gets only derived columns; the clear, normalised values are
returned separately for ``private.duckdb``:

============  ===============================================================================
kind          columns in ``raw/`` (the clear column itself is dropped)
============  ===============================================================================
name          ``name_hash``
phone         ``phone_hash``, ``is_phone_valid``, ``is_phone_junk``
id_number     ``id_number_hash``, ``is_id_number_valid``, ``is_id_number_junk``, ``id_birth_date``,
              ``id_gender``, ``id_region_code`` (the last three only from a valid number)
email         ``email_hash``, ``is_email_valid``, ``email_domain``
card_number   ``card_number_hash``, ``is_card_number_valid``, ``card_bin`` (issuer, first 6 digits)
wechat_id     ``<column>_hash``, ``is_<column>_junk``
============  ===============================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib import pii
from orchestration.lib.rules import JunkRules
from orchestration.lib.sources import Column, TableSpec


@dataclass
class ProtectedColumns:
    """Derived columns for the raw layer, and clear normalised values for the private store."""

    public: dict[str, pa.Array] = field(default_factory=dict)
    private: dict[str, pa.Array] = field(default_factory=dict)


def _strings(values: Sequence[str | None]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _bools(values: Sequence[bool | None]) -> pa.Array:
    return pa.array(values, type=pa.bool_())


def _dates(values: Sequence[date | None]) -> pa.Array:
    return pa.array(values, type=pa.date32())


def _hash_all(key: bytes, values: Sequence[str | None]) -> pa.Array:
    return _strings([pii.keyed_hash(key, value) for value in values])


def _flag(values: Sequence[str | None], test: Callable[[str], bool]) -> pa.Array:
    return _bools([None if value is None else test(value) for value in values])


def protect_column(
    column: Column, raw_values: Sequence[str | None], key: bytes, junk: JunkRules
) -> ProtectedColumns:
    """Normalise, validate, derive and hash one personal column."""
    out = ProtectedColumns()
    kind = column.pii
    if kind == "name":
        names = [pii.normalise_name(v) for v in raw_values]
        out.public["name_hash"] = _hash_all(key, names)
        out.private["name"] = _strings(names)
    elif kind == "phone":
        phones = [pii.normalise_phone(v) for v in raw_values]
        out.public["phone_hash"] = _hash_all(key, phones)
        out.public["is_phone_valid"] = _flag(phones, pii.is_valid_mobile)
        out.public["is_phone_junk"] = _flag(phones, junk.is_junk)
        out.private["phone"] = _strings(phones)
    elif kind == "id_number":
        numbers = [pii.normalise_id_number(v) for v in raw_values]
        valid = [None if n is None else pii.is_valid_id_number(n) for n in numbers]
        out.public["id_number_hash"] = _hash_all(key, numbers)
        out.public["is_id_number_valid"] = _bools(valid)
        out.public["is_id_number_junk"] = _flag(numbers, junk.is_junk)
        out.public["id_birth_date"] = _dates(
            [pii.id_birth_date(n) if ok else None for n, ok in zip(numbers, valid, strict=True)]
        )
        out.public["id_gender"] = _strings(
            [pii.id_gender(n) if ok else None for n, ok in zip(numbers, valid, strict=True)]
        )
        out.public["id_region_code"] = _strings(
            [n[:6] if ok else None for n, ok in zip(numbers, valid, strict=True)]
        )
        out.private["id_number"] = _strings(numbers)
    elif kind == "email":
        emails = [pii.normalise_email(v) for v in raw_values]
        valid = [None if e is None else pii.is_valid_email(e) for e in emails]
        out.public["email_hash"] = _hash_all(key, emails)
        out.public["is_email_valid"] = _bools(valid)
        out.public["email_domain"] = _strings(
            [e.rsplit("@", 1)[1] if ok else None for e, ok in zip(emails, valid, strict=True)]
        )
        out.private["email"] = _strings(emails)
    elif kind == "card_number":
        cards = [pii.normalise_card_number(v) for v in raw_values]
        valid = [None if c is None else pii.is_valid_card_number(c) for c in cards]
        out.public["card_number_hash"] = _hash_all(key, cards)
        out.public["is_card_number_valid"] = _bools(valid)
        out.public["card_bin"] = _strings([c[:6] if ok else None for c, ok in zip(cards, valid, strict=True)])
        out.private["card_number"] = _strings(cards)
    elif kind == "wechat_id":
        ids = [pii.fold_width(v).strip() or None if v is not None else None for v in raw_values]
        out.public[f"{column.name}_hash"] = _hash_all(key, ids)
        out.public[f"is_{column.name}_junk"] = _flag(ids, junk.is_junk)
        out.private[column.name] = _strings(ids)
    else:  # pragma: no cover - the spec only declares the kinds above
        raise ValueError(f"column {column.name}: unknown personal data kind {kind!r}")
    return out


def _protect_distinct(
    column: Column, values: pa.ChunkedArray, key: bytes, junk: JunkRules
) -> ProtectedColumns:
    """:func:`protect_column` over the distinct values only, spread back to every row: a tracking file
    repeats each person's identifiers across all their events, and hashing is the costly part."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    distinct = encoded.dictionary.to_pylist()
    # Nulls are left out of the dictionary: they point at an appended None.
    indices = pc.fill_null(encoded.indices, len(distinct))
    protected = protect_column(column, [*distinct, None], key, junk)
    return ProtectedColumns(
        public={name: pc.take(array, indices) for name, array in protected.public.items()},
        private={name: pc.take(array, indices) for name, array in protected.private.items()},
    )


def protect_table(table: pa.Table, spec: TableSpec, key: bytes, junk: JunkRules) -> tuple[pa.Table, pa.Table]:
    """Split a typed table into (raw-layer table without clear personal data, private table).

    The private table carries the file / line keys and the clear normalised values; it goes to
    ``private.duckdb`` only. Tables without personal columns give an empty private table.
    """
    public = table
    private_columns: dict[str, pa.Array] = {
        "_source_file": table.column("_source_file").combine_chunks(),
        "_source_line": table.column("_source_line").combine_chunks(),
    }
    for column in spec.columns:
        if column.pii is None:
            continue
        protected = _protect_distinct(column, table.column(column.name), key, junk)
        position = public.schema.get_field_index(column.name)
        public = public.remove_column(position)
        for offset, (name, values) in enumerate(protected.public.items()):
            public = public.add_column(position + offset, name, values)
        for name, values in protected.public.items():
            if name.endswith("_hash"):
                private_columns[name] = values
        private_columns.update(protected.private)
    if len(private_columns) == 2:
        return public, pa.table({})
    return public, pa.table(private_columns)
