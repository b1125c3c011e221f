"""ID-Mapping benchmark: fundcdp's SQL connected components vs scipy and networkx on the same edge list.

    python bench/identity_bench.py --persons 1000000 --identifiers-per-person 11

Builds a graph of persons, each a random tree over `identifiers-per-person` 64-hex identifiers
(persons x (identifiers - 1) links), shuffles the links, then resolves it twice:

- fundcdp: encode hashes to integers as the pipeline does (the node key of macro identity_node_key: 60 bits
  of the hash, identifiers sharing a key numbered apart), the dbt `connected_components` macro (randomised
  contraction, via `dbt run-operation`), decode back to hashes;
- scipy: edge table -> pandas.factorize -> sparse matrix -> csgraph.connected_components -> labels back;
- networkx: Graph built from the hash pairs -> networkx.connected_components -> labels back (only up to
  `--networkx-max-links` links: it is slow and needs several GiB per 10M links).

The peers' times exclude fetching the links from DuckDB; fundcdp's excludes dbt's start-up (measured
apart). Checks that every peer gives the identical partition (exit status 1 if not), prints the times and
their ratios and writes them to bench/results/<date>-identity-<persons>.json (or `--json-out`).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import resource
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


def run_dbt(arguments: list[str], data_dir: Path) -> tuple[str, float | None]:
    """Run a dbt command on the bench warehouse. Returns (stdout, the dbt process's peak RSS in MiB).

    The peak is the kernel's VmHWM of the dbt process, read while it runs: getrusage(RUSAGE_CHILDREN)
    would report at least this process's own peak, which a forked child inherits across exec.
    """
    environment = {**os.environ, "FUNDCDP_DATA_DIR": str(data_dir), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    command = [str(Path(sys.executable).with_name("dbt")), *arguments, "--target-path",
               str(data_dir / "target"), "--log-path", str(data_dir / "logs")]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=DBT_PROJECT_DIR, env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    peak_kib: int | None = None
    status = Path(f"/proc/{process.pid}/status")
    while True:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib or 0, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        try:
            stdout, stderr = process.communicate(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            continue
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stdout, stderr)
    return stdout, None if peak_kib is None else round(peak_kib / 1024, 1)


def node_key_sql(data_dir: Path) -> str:
    """The pipeline's node key (dbt macro identity_node_key) as DuckDB renders it, of a column `hash_column`.

    The bench's identifiers are all of one type (phone) and epoch 0. Rendered by `dbt compile --inline`
    (not timed), so the bench encodes exactly as int_identity_identifiers and int_identity_links do.
    """
    stdout, _ = run_dbt(
        ["compile", "--quiet", "--inline",
         "select {{ fundcdp.identity_node_key(\"'phone'\", 'hash_column', '0') }} as node_key"],
        data_dir,
    )  # fmt: skip
    expression = stdout.strip().removeprefix("select").strip().removesuffix("as node_key").strip()
    if "hash_column" not in expression:
        raise RuntimeError(f"could not read the rendered node key from dbt compile: {stdout!r}")
    return expression


def fundcdp_components(data_dir: Path, node_key: str) -> tuple[float, float, int, float, float | None]:
    """Encode, run the dbt macro, decode.

    The encoding is the pipeline's: each identifier's node id is its node key (`node_key`, a SQL expression
    of `hash_column`) unless two identifiers share a key, which are numbered -1, -2, ... instead
    (int_identity_identifiers); a link's ends are computed from its hashes, looking up only those
    (int_identity_links). Returns (seconds total, seconds inside dbt, passes, encode seconds, dbt's peak
    RSS in MiB).
    """
    database = data_dir / "warehouse.duckdb"

    def key_of(column: str) -> str:
        return node_key.replace("hash_column", column)

    started = time.perf_counter()
    con = duckdb.connect(str(database))
    con.execute(
        f"""
        create or replace table nodes as
        with keyed as (
            select h, {key_of("h")} as node_key
            from (select hash_a as h from links union select hash_b from links) as identifiers
        ),
        shared_keys as (select node_key from keyed group by node_key having count(*) > 1)
        select node_key as node, node_key, h
        from keyed where node_key not in (select node_key from shared_keys)
        union all
        select -row_number() over (order by h) as node, node_key, h
        from keyed where node_key in (select node_key from shared_keys)
        """
    )
    con.execute(
        "create or replace table edges as select coalesce(ea.node, ka) as a, coalesce(eb.node, kb) as b from "
        f"(select hash_a, hash_b, {key_of('hash_a')} as ka, {key_of('hash_b')} as kb from links) as k "
        "left join (select * from nodes where node <> node_key) as ea on ka = ea.node_key and hash_a = ea.h "
        "left join (select * from nodes where node <> node_key) as eb on kb = eb.node_key and hash_b = eb.h"
    )
    (shared,) = con.execute("select count(*) from nodes where node <> node_key").fetchone()
    con.close()
    encode_seconds = time.perf_counter() - started
    if shared:
        print(f"  {shared} identifiers share a node key and were numbered apart")
    dbt_started = time.perf_counter()
    operation_args = "{nodes: nodes, edges: edges, output: components}"
    stdout, dbt_peak_mib = run_dbt(["run-operation", "cc_of_tables", "--args", operation_args], data_dir)
    dbt_seconds = time.perf_counter() - dbt_started
    passes = int(stdout.split("connected components: ")[1].split(" passes")[0])
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
    return seconds, dbt_seconds, passes, encode_seconds, dbt_peak_mib


def dbt_startup_seconds(data_dir: Path, measurements: int = 2) -> float:
    """dbt's own cost of a `run-operation` that does nothing: the smallest of a few runs after a warm-up.

    The first dbt run in a fresh target path parses the whole project (~2.5x the later runs, which reuse
    partial_parse.msgpack, as the measured run does), so it is run once untimed. The minimum of the
    timed runs never flatters fundcdp: a smaller start-up leaves more time to the SQL.
    """
    seconds = []
    for run in range(measurements + 1):
        started = time.perf_counter()
        run_dbt(["run-operation", "cc_noop"], data_dir)
        if run > 0:
            seconds.append(time.perf_counter() - started)
    return min(seconds)


LOG_LINE = re.compile(r"^(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ \[\w+\s*\] \[[^\]]+\]: (.*)$")
STATEMENT = re.compile(r"^On [^:]+: (.*)$")
STATUS = re.compile(r"^SQL status: .* in ([0-9.]+) seconds$")


def statement_kind(sql: str) -> str:
    """The step of the connected_components macro a statement belongs to."""
    created = re.search(r"create\s+table\s+\S*__cc_\w+?_(map|edges|labels)_\d+", sql)
    if created:
        return created.group(1)
    if "count(*)" in sql:
        return "count"
    if re.search(r"create\s+table", sql):
        return "final"
    if "drop table" in sql:
        return "drop"
    return "other"


def dbt_sql_seconds(log: Path) -> dict | None:
    """DuckDB time of each statement of the last dbt invocation in `log` (dbt's debug log), by macro step.

    What is left of the run's time (minus dbt's start-up) is dbt's own work between the statements:
    rendering, adapter calls, relation cache.
    """
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    last_run = text.rfind("Running with dbt=")
    if last_run < 0:
        return None
    by_kind: dict[str, float] = {}
    statements = 0
    sql: list[str] = []
    collecting = False
    for line in text[last_run:].splitlines():
        match = LOG_LINE.match(line)
        if match is None:
            if collecting:
                sql.append(line)
            continue
        message = match.group(1)
        statement = STATEMENT.match(message)
        status = STATUS.match(message)
        if statement:
            sql, collecting = [statement.group(1)], True
        elif status:
            kind = statement_kind("\n".join(sql).lower())
            by_kind[kind] = by_kind.get(kind, 0.0) + float(status.group(1))
            statements += 1
            sql, collecting = [], False
        else:
            collecting = False
    if not statements:
        return None
    return {
        "statements": statements,
        "total": round(sum(by_kind.values()), 2),
        "by_step": {kind: round(seconds, 2) for kind, seconds in sorted(by_kind.items())},
    }


def fetch_links(con: duckdb.DuckDBPyConnection):
    """The edge list as a pandas frame (hash_a, hash_b): the peers' input, fetched once, not timed."""
    return con.execute("select hash_a, hash_b from links").fetchdf()


def store_labels(con: duckdb.DuckDBPyConnection, frame, table: str) -> None:
    """Canonical component keys (the smallest hash of each component) for the comparison, not timed."""
    frame["component_key"] = frame.groupby("label")["identifier_hash"].transform("min")
    con.register("peer_frame", frame[["identifier_hash", "component_key"]])
    con.execute(f"create or replace table {table} as select * from peer_frame")
    con.unregister("peer_frame")


def scipy_components(con: duckdb.DuckDBPyConnection, links) -> float:
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    started = time.perf_counter()
    codes, uniques = pd.factorize(pd.concat([links["hash_a"], links["hash_b"]], ignore_index=True))
    half = len(links)
    n = len(uniques)
    matrix = coo_matrix((np.ones(half, dtype=np.int8), (codes[:half], codes[half:])), shape=(n, n))
    _, labels = connected_components(matrix, directed=False)
    frame = pd.DataFrame({"identifier_hash": np.asarray(uniques, dtype=object), "label": labels})
    seconds = time.perf_counter() - started
    store_labels(con, frame, "scipy_labels")
    return seconds


def networkx_components(con: duckdb.DuckDBPyConnection, links) -> float:
    """The same work in networkx: Graph from the hash pairs, components, a label for every identifier."""
    import networkx as nx
    import pandas as pd

    started = time.perf_counter()
    graph = nx.Graph()
    graph.add_edges_from(zip(links["hash_a"].tolist(), links["hash_b"].tolist(), strict=True))
    identifiers: list[str] = []
    labels: list[int] = []
    for label, component in enumerate(nx.connected_components(graph)):
        identifiers.extend(component)
        labels.extend([label] * len(component))
    frame = pd.DataFrame({"identifier_hash": identifiers, "label": labels})
    seconds = time.perf_counter() - started
    del graph, identifiers, labels
    store_labels(con, frame, "networkx_labels")
    return seconds


def labelled_differently(con: duckdb.DuckDBPyConnection, peer_table: str) -> int:
    """Identifiers whose component key differs between fundcdp and a peer (or that only one labels)."""
    (differences,) = con.execute(
        f"select count(*) from fundcdp_labels f full join {peer_table} p using (identifier_hash) "
        "where f.component_key is distinct from p.component_key"
    ).fetchone()
    return differences


def machine_info() -> dict:
    import networkx
    import scipy

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "scipy": scipy.__version__,
        "networkx": networkx.__version__,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--identifiers-per-person", type=int, default=11)
    parser.add_argument(
        "--networkx-max-links",
        type=int,
        default=2_000_000,
        help="run networkx only up to this many links (default 2,000,000); above, it is skipped",
    )
    parser.add_argument(
        "--json-out",
        type=Path,
        default=None,
        help="where to write the JSON result (default bench/results/<date>-identity-<persons>.json)",
    )
    args = parser.parse_args()
    today = datetime.date.today().isoformat()
    json_out = args.json_out or REPO / "bench" / "results" / f"{today}-identity-{args.persons}.json"
    with tempfile.TemporaryDirectory(prefix="fundcdp-bench-") as folder:
        data_dir = Path(folder)
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
        started = time.perf_counter()
        build_graph(con, args.persons, args.identifiers_per_person)
        (links,) = con.execute("select count(*) from links").fetchone()
        print(f"graph: {args.persons:,} persons, {links:,} links of 64-hex identifiers "
              f"(built in {time.perf_counter() - started:.1f} s, not counted)")  # fmt: skip
        frame = fetch_links(con)
        scipy_seconds = scipy_components(con, frame)
        networkx_seconds: float | None = None
        networkx_skipped: str | None = None
        if links <= args.networkx_max_links:
            networkx_seconds = networkx_components(con, frame)
        else:
            networkx_skipped = (
                f"{links:,} links > --networkx-max-links {args.networkx_max_links:,} "
                "(networkx is slow and memory-hungry)"
            )
        del frame
        gc.collect()
        con.close()
        startup = dbt_startup_seconds(data_dir)
        node_key = node_key_sql(data_dir)
        total, inside_dbt, passes, encode_seconds, dbt_peak_mib = fundcdp_components(data_dir, node_key)
        sql_in_dbt = dbt_sql_seconds(data_dir / "logs" / "dbt.log")
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
        differences = {"scipy": labelled_differently(con, "scipy_labels")}
        if networkx_seconds is not None:
            differences["networkx"] = labelled_differently(con, "networkx_labels")
        (identifiers,) = con.execute("select count(*) from fundcdp_labels").fetchone()
        (components,) = con.execute("select count(distinct component_key) from fundcdp_labels").fetchone()
        con.close()
    sql_seconds = total - startup
    passes_seconds = inside_dbt - startup
    decode_seconds = total - encode_seconds - inside_dbt
    print(f"components: {components:,} (expected {args.persons:,}) over {identifiers:,} identifiers")
    for peer, count in differences.items():
        print(f"  identifiers labelled differently from {peer}: {count}")
    print(f"scipy  (factorise, sparse matrix, csgraph, labels back): {scipy_seconds:8.1f} s")
    if networkx_seconds is not None:
        print(f"networkx (Graph from edges, components, labels back):   {networkx_seconds:8.1f} s")
    else:
        print(f"networkx: skipped, {networkx_skipped}")
    print(f"fundcdp SQL (encode, {passes} passes, decode), dbt start-up excluded: {sql_seconds:8.1f} s")
    print(f"  of which encode {encode_seconds:.1f} s, contraction passes {passes_seconds:.1f} s, "
          f"decode {decode_seconds:.1f} s")  # fmt: skip
    if sql_in_dbt is not None:
        steps = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in sql_in_dbt["by_step"].items())
        print(f"  passes: {sql_in_dbt['statements']} statements, {sql_in_dbt['total']:.1f} s in DuckDB "
              f"({steps}), {passes_seconds - sql_in_dbt['total']:.1f} s dbt between them")  # fmt: skip
    print(f"  dbt run-operation start-up, measured separately:         {startup:8.1f} s")
    print(f"ratio fundcdp / scipy: {sql_seconds / scipy_seconds:.2f}x")
    if networkx_seconds is not None:
        print(f"ratio networkx / scipy: {networkx_seconds / scipy_seconds:.2f}x")
    # ru_maxrss is in KiB on Linux. The process holds DuckDB (graph build, encode, decode) and the peers;
    # the contraction passes run in the dbt process, whose peak is measured apart (run_dbt).
    peak_rss = {
        "process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "dbt_passes": dbt_peak_mib,
    }
    dbt_peak = "unknown" if dbt_peak_mib is None else f"{dbt_peak_mib:,.0f} MiB"
    print(f"peak RSS: this process {peak_rss['process']:,.0f} MiB, dbt process of the passes {dbt_peak}")
    identical = {peer: count == 0 for peer, count in differences.items()}
    result = {
        "date": today,
        "persons": args.persons,
        "identifiers_per_person": args.identifiers_per_person,
        "links": links,
        "identifiers": identifiers,
        "components": components,
        "passes": passes,
        "seconds": {
            "fundcdp": round(sql_seconds, 2),
            "fundcdp_encode": round(encode_seconds, 2),
            "fundcdp_passes": round(passes_seconds, 2),
            "fundcdp_decode": round(decode_seconds, 2),
            "dbt_startup": round(startup, 2),
            "scipy": round(scipy_seconds, 2),
            "networkx": None if networkx_seconds is None else round(networkx_seconds, 2),
        },
        "fundcdp_passes_sql_seconds": sql_in_dbt,
        "networkx_skipped": networkx_skipped,
        "ratios": {
            "fundcdp_to_scipy": ratio(sql_seconds, scipy_seconds),
            "networkx_to_scipy": ratio(networkx_seconds, scipy_seconds),
        },
        "partitions_identical": {"scipy": identical["scipy"], "networkx": identical.get("networkx")},
        "identifiers_labelled_differently": {
            "scipy": differences["scipy"],
            "networkx": differences.get("networkx"),
        },
        "peak_rss_mib": peak_rss,
        "machine": machine_info(),
    }
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {json_out}")
    return 0 if all(identical.values()) and components == args.persons else 1


if __name__ == "__main__":
    sys.exit(main())
