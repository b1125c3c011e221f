"""The identity hash the erasure writes into DuckDB SQL is the Python one (lib/identity_keys.py); the dbt
macro's agreement is tests/integration/test_rule_agreement.py."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from orchestration.lib.identity_keys import identity_hash, identity_hash_sql

PROBES = [("customer_no", "C0001"), ("login_id", "张三"), ("fund_account_id", "FA'1"), ("anonymous_id", "")]


def test_the_sql_identity_hash_equals_the_python_one():
    con = duckdb.connect()
    try:
        con.register("probe", pa.table({"value": [value for _, value in PROBES]}))
        columns = ", ".join(identity_hash_sql(kind, "value") for kind, _ in PROBES)
        rows = con.execute(f"select {columns} from probe").fetchall()
    finally:
        con.close()
    # row i holds value i; column j hashes it as type j: the diagonal is each probe's own hash
    assert [rows[i][i] for i in range(len(PROBES))] == [identity_hash(kind, value) for kind, value in PROBES]
    # a type with a quote stays a literal
    assert identity_hash_sql("it's", "value") == "sha256('it''s:' || value)"
