"""Each rule written once in Python and once in SQL gives the same answer on both sides.

The rules: junk identifiers (``orchestration/lib/rules.py`` JunkRules and the dbt macro
``is_junk_identifier``, both reading ``vars: fundcdp: identity:``), the identity hash of a system
identifier and the person id of an anchor (``orchestration/lib/identity_keys.py`` and the dbt macros
``identity_hash`` / ``person_id_from_anchor``). One ``dbt compile --inline`` renders the three macros over
the columns of a probe table; DuckDB runs the compiled SQL on values built for it (values are data in the
probe table, never SQL text) and every row is compared with Python's answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from orchestration.lib.identity_keys import identity_hash, person_id
from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.rules import JunkRules, load_business_rules

DBT = str(Path(sys.executable).with_name("dbt"))

# Junk and not junk. Not junk: ordinary ids, near misses of each junk rule (two repeated characters, a
# number one digit off a test number, "test" inside a value, two digits, zeros with a letter).
JUNK_PROBES: dict[str | None, bool] = {
    None: True,
    "": True,
    "   ": True,
    "null": True,
    " NULL ": True,
    "None": True,
    "undefined": True,
    "NaN": True,
    "unknown": True,
    "0": True,
    "-1": True,
    "-7": True,
    "7": True,
    "000": True,
    "0000000": True,
    "xxx": True,
    "11111111111": True,
    "13800138000": True,
    " 18888888888 ": True,
    "test": True,
    "Test_user_01": True,
    "TESTER": True,
    "xx": False,
    "11": False,
    "-12": False,
    "007": False,
    "00a": False,
    "13800138001": False,
    "13912345678": False,
    "contest": False,
    "latest_login": False,
    "C0001": False,
    "U12345": False,
    "张三": False,
    "nullable": False,
}

IDENTITY_PROBES: list[tuple[str, str]] = [
    ("customer_no", "C0001"),
    ("customer_no", "C 0001"),
    ("login_id", "u_12345"),
    ("login_id", "张三"),
    ("fund_account_id", "FA000123"),
    ("anonymous_id", "d41d8cd9-8f00-b204-e980-0998ecf8427e"),
    ("customer_no", ""),
]

PERSON_PROBES: list[tuple[str, str, int | None]] = [
    ("id_number", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 0),
    ("phone", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 0),
    ("phone", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 2),
    ("phone", "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", 11),
    ("customer_no", identity_hash("customer_no", "C0001"), None),
]

INLINE = (
    "select probe_id, "
    "{{ is_junk_identifier('junk_value') }} as is_junk, "
    "{{ identity_hash('identifier_type', 'identifier_value') }} as identifier_hash, "
    "{{ person_id_from_anchor('anchor_type', 'anchor_hash', 'anchor_epoch') }} as person_id "
    "from probe order by probe_id"
)


@pytest.fixture(scope="module")
def compiled_probe_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The three macros rendered by dbt over the probe table's columns (DuckDB target)."""
    data_dir = tmp_path_factory.mktemp("rule_agreement") / "data"
    data_dir.mkdir()
    result = subprocess.run(
        [DBT, "compile", "--quiet", "--inline", INLINE, "--target-path", str(data_dir / "target"),
         "--log-path", str(data_dir / "logs"), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(data_dir), "FUNDCDP_DBT_TARGET": "duckdb"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    compiled = result.stdout.strip()
    assert compiled.lower().startswith("select probe_id"), compiled[:500]
    return compiled


def probe_table() -> pa.Table:
    """One row per probe; the three probe lists side by side (shorter lists padded with nulls)."""
    junk = list(JUNK_PROBES)
    rows = max(len(junk), len(IDENTITY_PROBES), len(PERSON_PROBES))

    def column(values: list, size: int = rows) -> list:
        return values + [None] * (size - len(values))

    return pa.table(
        {
            "probe_id": pa.array(range(rows), pa.int64()),
            "junk_value": pa.array(column(junk), pa.string()),
            "identifier_type": pa.array(column([t for t, _ in IDENTITY_PROBES]), pa.string()),
            "identifier_value": pa.array(column([v for _, v in IDENTITY_PROBES]), pa.string()),
            "anchor_type": pa.array(column([t for t, _, _ in PERSON_PROBES]), pa.string()),
            "anchor_hash": pa.array(column([h for _, h, _ in PERSON_PROBES]), pa.string()),
            "anchor_epoch": pa.array(column([e for _, _, e in PERSON_PROBES]), pa.int64()),
        }
    )


@pytest.fixture(scope="module")
def sql_answers(compiled_probe_sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        con.register("probe", probe_table())
        return con.execute(compiled_probe_sql).fetchall()
    finally:
        con.close()


def test_junk_identifiers_agree_between_python_and_dbt(sql_answers):
    rules = JunkRules.from_rules(load_business_rules())
    expected = list(JUNK_PROBES.items())
    python = [(value, rules.is_junk(value)) for value, _ in expected]
    sql = [(value, bool(row[1])) for (value, _), row in zip(expected, sql_answers, strict=False)]
    assert python == expected  # the probes say what the rule is, not only that both sides agree
    assert sql == expected


def test_identity_hash_agrees_between_python_and_dbt(sql_answers):
    python = [identity_hash(kind, value) for kind, value in IDENTITY_PROBES]
    assert [row[2] for row in sql_answers[: len(IDENTITY_PROBES)]] == python
    # the rule itself, on one value worked out by hand
    assert identity_hash("customer_no", "C0001") == (
        "37399d4b4996ce5f25e6efa17d2afa8e06b6c3de8be7e8a47a78c93454e6fa0e"
    )


def test_person_id_agrees_between_python_and_dbt(sql_answers):
    python = [person_id(kind, hashed, epoch) for kind, hashed, epoch in PERSON_PROBES]
    assert [row[3] for row in sql_answers[: len(PERSON_PROBES)]] == python
    assert all(len(pid) == 17 and pid.startswith("P") and pid == pid.upper() for pid in python)
    # an epoch changes the id, epoch 0 and no epoch do not
    assert python[1] != python[2]
    assert (
        person_id("phone", "ab", 2) == "P85C1DD3A2363D3C8"
    )  # sha256("phone:ab#2"), worked out with sha256sum
    assert person_id("phone", "ab", 0) == person_id("phone", "ab", None) == person_id("phone", "ab")
