"""What analysts get of a person, on purpose-made data: k-anonymous gender / birth year / city, no birth
date, no identifier, and published person ids that stay the same across publishes, merges and a key
rotation. (The demo-wide attack is tests/security/test_reidentification.py.)"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from orchestration.defs.privacy import pseudonyms, quasi_identifiers
from orchestration.defs.privacy.key_rotation import rewrite_database
from orchestration.defs.publish.analytics import privacy_report, publish_analytics

# person_id, gender, birth_year, age_band, province, city
PEOPLE = [
    # five alike: a group of k = 5, published as is
    *[(f"A{i}", "F", 1980, "45-54", "浙江省", "杭州市") for i in range(5)],
    # five women of 1980 each alone in her city: city -> province makes a group of five
    *[(f"B{i}", "F", 1980, "45-54", "浙江省", city)
      for i, city in enumerate(["宁波市", "温州市", "绍兴市", "湖州市", "嘉兴市"])],
    # five men of 1990-1994 in five cities: alone even by province and year, together in the 1990-1994 band
    *[(f"C{i}", "M", 1990 + i, "25-34", "江苏省", city)
      for i, city in enumerate(["南京市", "苏州市", "无锡市", "常州市", "扬州市"])],
    # one man alone whatever is generalised: suppressed
    ("D0", "M", 1970, "55-64", "四川省", "成都市"),
    # two app-only persons: nothing known, no group, nothing to do
    ("E0", None, None, None, None, None),
    ("E1", None, None, None, None, None),
]  # fmt: skip


def generalised(k: int = 5) -> tuple[dict, dict[str, tuple]]:
    con = duckdb.connect()
    con.execute(
        "create table people (person_id varchar, gender varchar, birth_year integer, age_band varchar, "
        "province varchar, city varchar)"
    )
    con.executemany("insert into people values (?, ?, ?, ?, ?, ?)", PEOPLE)
    report = quasi_identifiers.generalise(con, "people", k)
    rows = con.execute(
        "select person_id, gender, birth_year, birth_year_band, age_band, province, city "
        f"from {quasi_identifiers.RESULT}"
    ).fetchall()
    return report, {row[0]: row[1:] for row in rows}


def test_small_groups_are_generalised_city_first_then_year_then_suppressed():
    report, published = generalised()
    assert report == {
        "k": 5,
        "persons": 18,
        "smallest_group_before": 1,
        "smallest_group_after": 5,
        "city_generalised": 11,  # B0-B4, C0-C4, D0
        "year_generalised": 6,  # C0-C4, D0
        "suppressed": 1,  # D0
    }
    assert published["A0"] == ("F", 1980, "1980-1984", "45-54", "浙江省", "杭州市")
    assert published["B0"] == ("F", 1980, "1980-1984", "45-54", "浙江省", None)
    assert published["C3"] == ("M", None, "1990-1994", None, "江苏省", None)
    assert published["D0"] == (None, None, None, None, None, None)
    assert published["E0"] == (None, None, None, None, None, None)


def test_a_smaller_k_generalises_less():
    report, published = generalised(k=1)
    assert (report["city_generalised"], report["year_generalised"], report["suppressed"]) == (0, 0, 0)
    assert published["D0"] == ("M", 1970, "1970-1974", "55-64", "四川省", "成都市")
    assert (report["smallest_group_before"], report["smallest_group_after"]) == (1, 1)


def test_k_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        generalised(k=0)


# ------------------------------------------------------------------------------------ the whole publish

TABLES = ("persons", "person_profile", "person_tags", "sessions", "identity_changes")


def make_warehouse(path: Path, ids: dict[str, str]) -> None:
    """A warehouse holding the PEOPLE under the given warehouse person ids (name -> id)."""
    con = duckdb.connect(str(path))
    con.execute("create schema main_marts")
    con.execute(
        "create table main_marts.persons (person_id varchar, anchor_type varchar, anchor_hash varchar, "
        "customer_no varchar, identifier_count integer)"
    )
    con.execute(
        "create table main_marts.person_profile (person_id varchar, gender varchar, age integer, "
        "age_band varchar, birth_date date, days_until_birthday integer, province varchar, city varchar, "
        "lifecycle_stage varchar, as_of_date date)"
    )
    con.execute(
        "create table main_marts.person_tags (person_id varchar, tag_code varchar, tag_value varchar, "
        "as_of_date date)"
    )
    con.execute(
        "create table main_marts.sessions (session_id varchar, person_id varchar, session_number bigint, "
        "login_id varchar)"
    )
    con.execute(
        "create table main_marts.identity_changes (old_person_id varchar, new_person_id varchar, "
        "change_reason varchar)"
    )
    as_of = date(2026, 6, 30)
    for name, gender, year, band, province, city in PEOPLE:
        person = ids[name]
        birth = date(year, 3, 1) if year else None
        con.execute(
            "insert into main_marts.persons values (?, 'customer_no', ?, ?, 3)",
            [person, f"hash-of-{name}", f"C{name}"],
        )
        con.execute(
            "insert into main_marts.person_profile values (?, ?, ?, ?, ?, 120, ?, ?, 'active', ?)",
            [person, gender, year and 2026 - year, band, birth, province, city, as_of],
        )
        tags = {"gender": gender, "birth_date": birth and str(birth), "city": city, "province": province,
                "age": year and str(2026 - year), "lifecycle_stage": "active"}  # fmt: skip
        for code, value in tags.items():
            if value is not None:
                con.execute(
                    "insert into main_marts.person_tags values (?, ?, ?, ?)", [person, code, value, as_of]
                )
        con.execute(
            "insert into main_marts.sessions values (?, ?, 1, ?)", [f"{person}-1", person, f"U-{name}"]
        )
    con.execute("insert into main_marts.identity_changes values (?, ?, 'merge')", [ids["A1"], ids["A0"]])
    con.close()


def publish(tmp_path: Path, ids: dict[str, str]) -> duckdb.DuckDBPyConnection:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    make_warehouse(warehouse, ids)
    publish_analytics(warehouse, tmp_path / "analytics.duckdb", tables=TABLES, k=5)
    return duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True)


def warehouse_ids(prefix: str = "W") -> dict[str, str]:
    return {row[0]: f"P{prefix}{index:015d}" for index, row in enumerate(PEOPLE)}


def test_published_tables_carry_published_ids_no_identifier_and_no_birth_date(tmp_path):
    ids = warehouse_ids()
    analytics = publish(tmp_path, ids)
    mapping = pseudonyms.published_ids(tmp_path / "private.duckdb")
    assert set(mapping) == set(ids.values()) and len(set(mapping.values())) == len(PEOPLE)
    assert all(p.startswith("P") and len(p) == 17 and p not in ids.values() for p in mapping.values())
    assert [r[0] for r in analytics.execute("describe persons").fetchall()] == [
        "person_id",
        "identifier_count",
    ]
    profile = [r[0] for r in analytics.execute("describe person_profile").fetchall()]
    assert profile == ["person_id", "gender", "age_band", "birth_year", "birth_year_band", "province", "city",
                       "lifecycle_stage", "as_of_date"]  # fmt: skip
    assert analytics.execute(
        "select gender, birth_year, birth_year_band, province, city from person_profile where person_id = ?",
        [mapping[ids["C3"]]],
    ).fetchone() == ("M", None, "1990-1994", "江苏省", None)
    # the long form follows the wide one: birth_year instead of birth_date, no age, generalised values
    tags = analytics.execute(
        "select tag_code, tag_value from person_tags where person_id = ? order by 1", [mapping[ids["B0"]]]
    ).fetchall()
    assert tags == [
        ("birth_year", "1980"),
        ("gender", "F"),
        ("lifecycle_stage", "active"),
        ("province", "浙江省"),
    ]
    assert analytics.execute(
        "select count(*) from person_tags where person_id = ?", [mapping[ids["D0"]]]
    ).fetchone() == (1,)  # suppressed: only lifecycle_stage
    a0 = mapping[ids["A0"]]
    sessions = analytics.execute("select session_id, person_id from sessions where person_id = ?", [a0])
    assert sessions.fetchall() == [(f"{a0}-1", a0)]
    assert [r[0] for r in analytics.execute("describe sessions").fetchall()] == [
        "session_id", "person_id", "session_number"
    ]  # fmt: skip
    assert analytics.execute("select old_person_id, new_person_id from identity_changes").fetchall() == [
        (mapping[ids["A1"]], mapping[ids["A0"]])
    ]
    assert privacy_report(tmp_path / "analytics.duckdb")["suppressed"] == 1
    analytics.close()


def test_published_ids_survive_a_republish_and_a_key_rotation(tmp_path):
    ids = warehouse_ids()
    publish(tmp_path, ids).close()
    first = pseudonyms.published_ids(tmp_path / "private.duckdb")
    # A key rotation re-derives the ids of persons anchored on a personal identifier (here: C0-C4);
    # rotate-key rewrites private.duckdb through the same old -> new person id mapping.
    rotated = {name: (f"PR{index:015d}" if name.startswith("C") else person) for index, (name, person) in
               enumerate(ids.items())}  # fmt: skip
    persons = pa.table(
        {
            "old_person_id": [ids[n] for n in ids if n.startswith("C")],
            "new_person_id": [rotated[n] for n in ids if n.startswith("C")],
        }
    )
    empty = pa.table({"old_hash": pa.array([], pa.string()), "new_hash": pa.array([], pa.string())})
    staged, _ = rewrite_database(tmp_path / "private.duckdb", empty, persons)
    staged.replace(tmp_path / "private.duckdb")
    analytics = publish(tmp_path, rotated)
    second = pseudonyms.published_ids(tmp_path / "private.duckdb")
    assert {name: second[rotated[name]] for name in ids} == {name: first[ids[name]] for name in ids}
    published = {r[0] for r in analytics.execute("select person_id from persons").fetchall()}
    assert published == set(first.values())
    analytics.close()


def test_an_erased_person_is_forgotten(tmp_path):
    ids = warehouse_ids()
    publish(tmp_path, ids).close()
    mapping = pseudonyms.published_ids(tmp_path / "private.duckdb")
    assert pseudonyms.forget(tmp_path / "private.duckdb", [ids["A0"]]) == {mapping[ids["A0"]]}
    assert ids["A0"] not in pseudonyms.published_ids(tmp_path / "private.duckdb")


def test_two_copies_of_a_data_directory_give_a_new_person_the_same_published_id(tmp_path):
    """A backfill runs on a copy of the data directory the daily runs continue on: both must publish a
    person who is new to them under one id (HMAC keyed by the private store's secret)."""
    ids = warehouse_ids()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    publish(tmp_path / "a", ids).close()
    shutil.copy(tmp_path / "a" / "private.duckdb", tmp_path / "b" / "private.duckdb")
    later = {**ids, "E1": "PNEWPERSON0000001"}
    for copy in ("a", "b"):
        publish(tmp_path / copy, later).close()
    first, second = (pseudonyms.published_ids(tmp_path / c / "private.duckdb") for c in ("a", "b"))
    assert first == second and len(first) == len(PEOPLE) + 1
    assert first[later["E1"]] not in (ids["E1"], later["E1"], first[ids["E1"]])
    # another data directory (another secret) gives the same person another id
    publish(tmp_path, later).close()
    assert pseudonyms.published_ids(tmp_path / "private.duckdb")[later["E1"]] != first[later["E1"]]


def seed_published_ids(private_db: Path, published: dict[str, str]) -> None:
    """A private store that already remembers the given published ids (warehouse id -> published id)."""
    con = duckdb.connect(str(private_db))
    con.execute(pseudonyms.CREATE_TABLE.format(catalog="main"))
    con.executemany(
        f"insert into {pseudonyms.TABLE} values (?, ?, null)", [list(pair) for pair in published.items()]
    )
    con.close()


def test_rows_are_in_published_id_order_so_their_position_gives_no_warehouse_id_away(tmp_path):
    """The warehouse rows follow warehouse ids (make_warehouse inserts them in that order, as dbt's
    ``order by person_id`` does). Published ids are seeded so that no person's published rank equals
    their warehouse rank: an attacker who computes every warehouse id, sorts them and matches rows by
    position gets all 18 right on the warehouse order and 0 on what is published."""
    ids = warehouse_ids()
    people = sorted(ids.values())
    n = len(people)
    ranks = {person: (7 * index + 3) % n for index, person in enumerate(people)}  # no fixed point
    assert all(rank != index for index, rank in enumerate(ranks.values()))
    published = {person: f"P{rank:016X}" for person, rank in ranks.items()}
    seed_published_ids(tmp_path / "private.duckdb", published)
    analytics = publish(tmp_path, ids)
    in_order = sorted(published.values())
    for table in ("persons", "person_profile", "sessions"):
        rows = [p for (p,) in analytics.execute(f"select person_id from {table} order by rowid").fetchall()]
        assert rows == in_order, table
        warehouse = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
        old_order = [
            published[p]
            for (p,) in warehouse.execute(
                f"select person_id from main_marts.{table} order by rowid"
            ).fetchall()
        ]
        warehouse.close()
        guesses = [published[p] for p in sorted(published)]  # the attack: sorted warehouse ids, by position
        assert sum(g == r for g, r in zip(guesses, old_order, strict=True)) == n  # the order before
        assert sum(g == r for g, r in zip(guesses, rows, strict=True)) == 0
    tags = analytics.execute("select person_id, tag_code from person_tags order by rowid").fetchall()
    assert tags == sorted(tags)  # by published id, then tag
    analytics.close()


def test_an_erasure_also_forgets_the_ids_merged_into_the_person(tmp_path):
    """identity_changes: A merged into B, B into C (C is current), X split into C and Y (X is still a
    current person, Y's). Erasing C forgets A and B too, not X or Y."""
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema main_marts")
    con.execute("create table main_marts.persons as select unnest(['PC', 'PX', 'PY', 'PZ']) as person_id")
    con.execute(
        "create table main_marts.identity_changes (old_person_id varchar, new_person_id varchar, "
        "change_reason varchar)"
    )
    con.executemany(
        "insert into main_marts.identity_changes values (?, ?, ?)",
        [["PA", "PB", "merged"], ["PB", "PC", "merged"], ["PX", "PC", "split"], ["PX", "PY", "split"],
         ["PQ", "PZ", "merged"]],
    )  # fmt: skip
    con.close()
    assert pseudonyms.merged_into(warehouse, {"PC"}) == {"PA", "PB"}
    assert pseudonyms.merged_into(warehouse, {"PY"}) == set()
    assert pseudonyms.merged_into(tmp_path / "none.duckdb", {"PC"}) == set()
    private = tmp_path / "private.duckdb"
    seed_published_ids(private, {p: f"Q{p}" for p in ("PA", "PB", "PC", "PQ", "PX", "PY", "PZ")})
    assert pseudonyms.forget(private, {"PC"} | pseudonyms.merged_into(warehouse, {"PC"})) == {
        "QPA",
        "QPB",
        "QPC",
    }
    assert set(pseudonyms.published_ids(private)) == {"PQ", "PX", "PY", "PZ"}
