"""ID-Mapping benchmark: fundcdp's SQL connected components vs scipy on the same hashed edge list.

    python bench/identity_bench.py --persons 1000000 --identifiers-per-person 11

Builds a graph of persons, each a random tree over `identifiers-per-person` 64-hex identifiers
(persons x (identifiers - 1) links), shuffles the links, then resolves it twice:

- fundcdp: encode hashes to integers (DuckDB), the dbt `connected_components` macro (randomised
  contraction, via `dbt run-operation`), decode back to hashes;
- scipy: edge table -> pandas.factorize -> sparse matrix -> csgraph.connected_components -> labels back.

Checks that both give the identical partition and prints the times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO / "dbt_project"


def build_graph(con: duckdb.DuckDBPyConnection, persons: int, per_person: int, seed: float = 0.42) -> None:
    con.execute(f"select setseed({seed})")
    con.execute(
        f"""
        create table links as
        with identifiers as (
            select p.range as person, i.range as position,
                   sha256(cast(p.range as varchar) || ':' || cast(i.range as varchar)) as identifier_hash
            from range({persons}) as p, range({per_person}) as i
        )
        select child.identifier_hash as hash_a, parent.identifier_hash as hash_b
        from identifiers as child
        join identifiers as parent
          on parent.person = child.person
         and parent.position = cast(floor(random() * child.position) as bigint)
        where child.position > 0
        order by random()
        """
    )


def fundcdp_components(data_dir: Path) -> tuple[float, float, int, float]:
    """Encode, run the dbt macro, decode. Returns (seconds total, seconds inside dbt, passes, encode s)."""
    database = data_dir / "warehouse.duckdb"
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    con.execute(
        "create or replace table nodes as select row_number() over () as node, h from "
        "(select hash_a as h from links union select hash_b from links)"
    )
    con.execute(
        "create or replace table edges as select na.node as a, nb.node as b from links "
        "join nodes as na on links.hash_a = na.h join nodes as nb on links.hash_b = nb.h"
    )
    con.close()
    encode_seconds = time.perf_counter() - started
    dbt_started = time.perf_counter()
    environment = {**os.environ, "FUNDCDP_DATA_DIR": str(data_dir), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run-operation", "cc_of_tables", "--args",
         "{nodes: nodes, edges: edges, output: components}", "--target-path", str(data_dir / "target"),
         "--log-path", str(data_dir / "logs")],
        cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    dbt_seconds = time.perf_counter() - dbt_started
    passes = int(result.stdout.split("connected components: ")[1].split(" passes")[0])
    con = duckdb.connect(str(database))
    con.execute(
        "create or replace table fundcdp_labels as select nodes.h as identifier_hash, components.component "
        "from components join nodes on components.node = nodes.node"
    )
    seconds = time.perf_counter() - started
    # Canonical component keys for the comparison only (not timed, like scipy's).
    con.execute(
        "create or replace table fundcdp_labels as select identifier_hash, "
        "min(identifier_hash) over (partition by component) as component_key from fundcdp_labels"
    )
    con.close()
    return seconds, dbt_seconds, passes, encode_seconds


def dbt_startup_seconds(data_dir: Path) -> float:
    environment = {**os.environ, "FUNDCDP_DATA_DIR": str(data_dir), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run-operation", "cc_noop", "--target-path",
         str(data_dir / "target"), "--log-path", str(data_dir / "logs")],
        cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def scipy_components(con: duckdb.DuckDBPyConnection) -> float:
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    links = con.execute("select hash_a, hash_b from links").fetchdf()
    started = time.perf_counter()
    codes, uniques = pd.factorize(pd.concat([links["hash_a"], links["hash_b"]], ignore_index=True))
    half = len(links)
    n = len(uniques)
    matrix = coo_matrix((np.ones(half, dtype=np.int8), (codes[:half], codes[half:])), shape=(n, n))
    _, labels = connected_components(matrix, directed=False)
    frame = pd.DataFrame({"identifier_hash": np.asarray(uniques, dtype=object), "label": labels})
    seconds = time.perf_counter() - started
    frame["component_key"] = frame.groupby("label")["identifier_hash"].transform("min")
    con.register("scipy_frame", frame[["identifier_hash", "component_key"]])
    con.execute("create or replace table scipy_labels as select * from scipy_frame")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--identifiers-per-person", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fundcdp-bench-") as folder:
        data_dir = Path(folder)
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
        started = time.perf_counter()
        build_graph(con, args.persons, args.identifiers_per_person)
        (links,) = con.execute("select count(*) from links").fetchone()
        print(f"graph: {args.persons:,} persons, {links:,} links of 64-hex identifiers "
              f"(built in {time.perf_counter() - started:.1f} s, not counted)")  # fmt: skip
        scipy_seconds = scipy_components(con)
        con.close()
        startup = dbt_startup_seconds(data_dir)
        total, inside_dbt, passes, encode_seconds = fundcdp_components(data_dir)
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
        (differences,) = con.execute(
            "select count(*) from fundcdp_labels f full join scipy_labels s using (identifier_hash) "
            "where f.component_key is distinct from s.component_key"
        ).fetchone()
        (components,) = con.execute("select count(distinct component_key) from fundcdp_labels").fetchone()
        con.close()
    sql_seconds = total - startup
    print(
        f"components: {components:,} (expected {args.persons:,}); "
        f"identifiers labelled differently: {differences}"
    )
    print(f"scipy  (factorise, sparse matrix, csgraph, labels back): {scipy_seconds:8.1f} s")
    print(f"fundcdp SQL (encode, {passes} passes, decode), dbt start-up excluded: {sql_seconds:8.1f} s")
    print(f"  of which encode {encode_seconds:.1f} s, contraction passes {inside_dbt - startup:.1f} s, "
          f"decode {total - encode_seconds - inside_dbt:.1f} s")  # fmt: skip
    print(f"  dbt run-operation start-up, measured separately:         {startup:8.1f} s")
    print(f"ratio fundcdp / scipy: {sql_seconds / scipy_seconds:.2f}x")
    return 0 if differences == 0 and components == args.persons else 1


if __name__ == "__main__":
    sys.exit(main())
