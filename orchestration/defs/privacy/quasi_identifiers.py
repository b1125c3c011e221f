"""k-anonymity of the quasi-identifiers published to analysts: gender, birth year and city.

Anyone who knows a person's gender, birth date and city could find them in a table that carries all
three (in the demo, that combination was unique for 1,984 of 1,996 persons). Analysts therefore get the
birth **year**, never the date, and every combination of the published quasi-identifiers must be shared by
at least ``k`` persons (``vars: fundcdp: publish: k_anonymity``). Persons in smaller groups are
generalised, in this order, each step only for the persons still in a group under ``k``:

1. city -> province (``city`` becomes null, ``province`` stays);
2. birth year -> five-year band (``birth_year`` becomes null, ``birth_year_band`` e.g. ``1985-1989``
   stays; ``age_band``, which would narrow the band, becomes null too);
3. whatever is still in a group under ``k`` is suppressed: all of them null.

Groups are compared on the published tuple (gender, birth year, band, province, city; a null is a value
like any other). The all-null tuple (no CRM data, or suppressed) says nothing about anyone and is not
counted as a group. Everything runs in SQL on the given connection, ``k`` as a bound parameter.
"""

from __future__ import annotations

import duckdb

# The relation the caller provides: one row per person.
SOURCE_COLUMNS = ("person_id", "gender", "birth_year", "age_band", "province", "city")
RESULT = "published_quasi_identifiers"

_BAND = (
    "cast(cast(floor({year} / 5) * 5 as integer) as varchar) || '-' || "
    "cast(cast(floor({year} / 5) * 5 + 4 as integer) as varchar)"
)

_PUBLISHED_TUPLE = "gender, birth_year, birth_year_band, province, city"


def _any_value(columns: str) -> str:
    """SQL true when at least one of the comma-separated columns is not null."""
    return "(" + " or ".join(f"{c.strip()} is not null" for c in columns.split(",")) + ")"


def _smallest_group(con: duckdb.DuckDBPyConnection, relation: str, columns: str) -> int | None:
    (smallest,) = con.execute(
        f"select min(n) from (select count(*) as n from {relation} "
        f"where {_any_value(columns)} group by {columns})"
    ).fetchone()
    return smallest


def generalise(con: duckdb.DuckDBPyConnection, source: str, k: int) -> dict[str, int | None]:
    """Create the temp table ``published_quasi_identifiers`` (person_id, gender, birth_year,
    birth_year_band, age_band, province, city) from the relation ``source`` (a trusted name; columns
    :data:`SOURCE_COLUMNS`); returns what was done: the smallest group before and after, and how many
    persons had their city generalised, their birth year generalised, or everything suppressed."""
    if k < 1:
        raise ValueError(f"k_anonymity must be at least 1, not {k}")
    band = _BAND.format(year="birth_year")
    smallest_before = _smallest_group(con, source, "gender, birth_year, city")
    # Step 1: city -> province, for groups (gender, year, city) under k.
    con.execute(
        "create or replace temp table qi_step_city as "
        "select person_id, gender, birth_year, age_band, province, "
        "case when count(*) over (partition by gender, birth_year, city) < ? then null else city end "
        "as city, "
        "city is not null and count(*) over (partition by gender, birth_year, city) < ? as city_generalised "
        f"from {source}",
        [k, k],
    )
    # Step 2: year -> five-year band, for groups (gender, year, province, city) still under k.
    con.execute(
        "create or replace temp table qi_step_year as "
        "select person_id, gender, province, city, city_generalised, "
        f"{band} as birth_year_band, "
        "case when count(*) over (partition by gender, birth_year, province, city) < ? "
        "then null else birth_year end as birth_year, "
        "case when count(*) over (partition by gender, birth_year, province, city) < ? "
        "then null else age_band end as age_band, "
        "birth_year is not null and count(*) over (partition by gender, birth_year, province, city) < ? "
        "as year_generalised "
        "from qi_step_city",
        [k, k, k],
    )
    # Step 3: suppress what is still in a group under k (the all-null tuple is no group).
    con.execute(
        f"create or replace temp table {RESULT} as "
        "with sized as ("
        f"  select *, count(*) over (partition by {_PUBLISHED_TUPLE}) as group_size,"
        f"  not {_any_value(_PUBLISHED_TUPLE)} as is_empty from qi_step_year"
        ") "
        "select person_id, "
        "case when suppressed then null else gender end as gender, "
        "case when suppressed then null else birth_year end as birth_year, "
        "case when suppressed then null else birth_year_band end as birth_year_band, "
        "case when suppressed then null else age_band end as age_band, "
        "case when suppressed then null else province end as province, "
        "case when suppressed then null else city end as city, "
        "city_generalised, year_generalised, suppressed "
        "from (select *, not is_empty and group_size < ? as suppressed from sized)",
        [k],
    )
    (persons, city_generalised, year_generalised, suppressed) = con.execute(
        "select count(*), count(*) filter (where city_generalised), "
        f"count(*) filter (where year_generalised), count(*) filter (where suppressed) from {RESULT}"
    ).fetchone()
    con.execute("drop table qi_step_city")
    con.execute("drop table qi_step_year")
    return {
        "k": k,
        "persons": persons,
        "smallest_group_before": smallest_before,
        "smallest_group_after": _smallest_group(con, RESULT, _PUBLISHED_TUPLE),
        "city_generalised": city_generalised,
        "year_generalised": year_generalised,
        "suppressed": suppressed,
    }
