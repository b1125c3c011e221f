"""Spark side by side: the dbt layer on a local Spark session vs DuckDB, on the same raw/ Parquet layer.

    python bench/spark_bench.py --run-dir data/bench/runs/sf0.1-<t> --as-of 2026-06-29

DIR (``--run-dir``) is a fundcdp data directory whose raw/ layer is loaded, e.g. a run directory of
bench/pipeline_bench.py. DIR itself is not written: a scratch data directory (default
``DIR/../spark-bench-sf<SF>``, emptied first) gets raw/ as hard links (a symlink if on another disk) and
private.duckdb (+ its WAL) likewise, which the DuckDB-only model contact_list_masked attaches read-only.
Both engines thus build from nothing, in full, from the identical files. Per engine (DuckDB first), with
``FUNDCDP_DBT_TARGET`` set and its own target and log paths:

1. start-up: ``dbt show --inline "select 1 as one"`` on a fresh target path: dbt start, full parse, the
   adapter's connection and one query (on Spark: the JVM and the Spark session). The fixed cost;
2. build: ``dbt build --vars '{"as_of_date": ...}' --exclude-resource-type unit_test`` (unit tests run on
   fixed rows and say nothing about data size). It reuses the partial parse of step 1.

Per step: wall seconds of the dbt subprocess and the peak RSS of its process tree (dbt and the JVM,
sampled from /proc); per build: dbt's node seconds from run_results.json (models, data tests, seeds) and
the five slowest models, the ``Done.`` summary and success (return code 0 and ``ERROR=0``). Row counts of a
few mart tables are compared between the engines. Prints the seconds and the ratio spark / duckdb, writes
``bench/results/<date>-spark-sf<SF>.json`` (or ``--json-out``). The scratch directory is removed when both
builds succeed, unless ``--keep-scratch``. No figure is asserted; exit status 1 if a build failed.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import date
from importlib import metadata
from pathlib import Path

import duckdb
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestration.lib.relations import model_relation  # noqa: E402

DBT_PROJECT_DIR = REPO / "dbt_project"
ENGINES = ("duckdb", "spark")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# What a stray Spark session leaves in its working directory.
STRAY_NAMES = ("metastore_db", "derby.log", "spark-warehouse")
# Mart tables whose row counts are compared (tables on both engines).
COMPARED_TABLES = ("persons", "person_identifiers", "person_profile")


def link_or_copy(source: Path, target: Path) -> str:
    """Hard-link ``source`` (a file or a directory tree) to ``target``; a symlink across file systems."""
    try:
        if source.is_dir():
            shutil.copytree(source, target, copy_function=os.link)
        else:
            os.link(source, target)
        return "hard links"
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        if target.is_dir():
            shutil.rmtree(target)
        target.symlink_to(source, target_is_directory=source.is_dir())
        return "symlink"


def prepare_scratch(run_dir: Path, scratch: Path) -> dict[str, str]:
    """An empty data directory ``scratch`` with raw/ and private.duckdb of ``run_dir`` linked in."""
    if scratch.resolve() == run_dir.resolve():
        raise SystemExit("the scratch directory must not be the run directory")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    linked = {"raw": link_or_copy(run_dir / "raw", scratch / "raw")}
    for name in ("private.duckdb", "private.duckdb.wal"):
        if (run_dir / name).is_file():
            linked[name] = link_or_copy(run_dir / name, scratch / name)
    return linked


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[parent].append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
                total += int(statm.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, ()))
    return total


def timed(command: list[str], environment: dict[str, str], log: Path) -> dict:
    """Run ``command`` from dbt_project/; wall seconds, peak RSS of its process tree, return code, output
    (also written to ``log``)."""
    peak = 0
    load_before = os.getloadavg()[0]
    done = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=DBT_PROJECT_DIR, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, tree_rss_bytes(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(output, encoding="utf-8")
    return {
        "seconds": round(seconds, 2),
        "returncode": process.returncode,
        "peak_rss_mib": round(peak / 2**20, 1),
        # The machine's other work: 1-minute load average when the step started and ended.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "output": output,
    }


def summary_of(output: str) -> dict[str, int] | None:
    """dbt's closing ``Done. PASS=… WARN=… ERROR=… SKIP=… … TOTAL=…`` line as a dict."""
    lines = [line for line in output.splitlines() if "Done. PASS=" in line]
    if not lines:
        return None
    return {key: int(value) for key, value in re.findall(r"([A-Z][A-Z-]*)=(\d+)", lines[-1])}


def node_seconds(target_path: Path) -> dict:
    """dbt's own timing of the last build: node seconds by resource type and the five slowest models."""
    path = target_path / "run_results.json"
    if not path.exists():
        return {"elapsed_seconds": None, "node_seconds": {}, "nodes": 0, "slowest_models": []}
    run_results = json.loads(path.read_text(encoding="utf-8"))
    by_type: dict[str, float] = defaultdict(float)
    models = []
    for result in run_results["results"]:
        kind = result["unique_id"].split(".")[0]
        by_type[kind] += result["execution_time"]
        if kind == "model":
            models.append((result["execution_time"], result["unique_id"].split(".")[-1], result["status"]))
    models.sort(reverse=True)
    return {
        "elapsed_seconds": round(run_results.get("elapsed_time", 0.0), 2),
        "node_seconds": {
            "total": round(sum(by_type.values()), 2),
            **{kind: round(value, 2) for kind, value in sorted(by_type.items())},
        },
        "nodes": len(run_results["results"]),
        "slowest_models": [
            {"model": name, "seconds": round(seconds, 2), "status": status}
            for seconds, name, status in models[:5]
        ],
    }


def run_engine(engine: str, scratch: Path, as_of: str, driver_memory: str) -> dict:
    environment = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(scratch),
        "FUNDCDP_DBT_TARGET": engine,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "FUNDCDP_SPARK_DRIVER_MEMORY": driver_memory,
        # DuckDB gets the same memory as Spark's driver, as in the pipeline benchmark
        "FUNDCDP_DUCKDB_MEMORY_LIMIT": os.environ.get("FUNDCDP_DUCKDB_MEMORY_LIMIT", "8GB"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    target_path = scratch / f"target_{engine}"
    dbt = str(Path(sys.executable).with_name("dbt"))
    common = ["--vars", json.dumps({"as_of_date": as_of}), "--target-path", str(target_path),
              "--log-path", str(scratch / "logs" / engine)]  # fmt: skip
    logs = scratch / "logs" / engine
    startup_command = [dbt, "show", "--inline", "select 1 as one", *common]
    build_command = [dbt, "build", "--exclude-resource-type", "unit_test", *common]
    print(f"{engine}: start-up ({' '.join(startup_command[1:4])})", flush=True)
    startup = timed(startup_command, environment, logs / "startup.out")
    print(f"{engine}: start-up {startup['seconds']:.1f} s, rc {startup['returncode']}", flush=True)
    print(f"{engine}: dbt build", flush=True)
    build = timed(build_command, environment, logs / "build.out")
    summary = summary_of(build["output"])
    success = build["returncode"] == 0 and " ERROR=0 " in build["output"]
    print(
        f"{engine}: build {build['seconds']:.1f} s, rc {build['returncode']}, {summary}, success {success}",
        flush=True,
    )
    return {
        "startup": {
            "command": " ".join(startup_command[1:4]),
            "seconds": startup["seconds"],
            "peak_rss_mib": startup["peak_rss_mib"],
            "load_average": startup["load_average"],
            "success": startup["returncode"] == 0,
        },
        "build": {
            "command": " ".join(build_command[1:4]) + f" --vars '{common[1]}'",
            "seconds": build["seconds"],
            "peak_rss_mib": build["peak_rss_mib"],
            "load_average": build["load_average"],
            "returncode": build["returncode"],
            "summary": summary,
            "success": success,
            **node_seconds(target_path),
            **({} if success else {"output_tail": build["output"][-4000:]}),
        },
    }


def table_rows(scratch: Path) -> dict[str, dict[str, int | None]]:
    """Rows of a few mart tables on each engine (DuckDB's warehouse; Spark's Parquet warehouse)."""
    rows: dict[str, dict[str, int | None]] = {}
    con = None
    if (scratch / "warehouse.duckdb").exists():
        con = duckdb.connect(str(scratch / "warehouse.duckdb"), read_only=True)
    memory = duckdb.connect()
    for table in COMPARED_TABLES:
        counts: dict[str, int | None] = {"duckdb": None, "spark": None}
        try:
            if con is not None:
                # where the DuckDB build put the model, from that build's own manifest
                where = model_relation(table, scratch / "target_duckdb" / "manifest.json")
                counts["duckdb"] = con.execute(f"select count(*) from {where.quoted}").fetchone()[0]
        except duckdb.Error:
            pass
        files = scratch / "spark" / "warehouse" / "fundcdp_marts.db" / table
        try:
            if files.is_dir():
                counts["spark"] = memory.execute(
                    "select count(*) from read_parquet(?)", [f"{files}/**/*.parquet"]
                ).fetchone()[0]
        except duckdb.Error:
            pass
        rows[table] = counts
    if con is not None:
        con.close()
    memory.close()
    return rows


def strays() -> set[str]:
    return {
        str(folder / name)
        for folder in (REPO, DBT_PROJECT_DIR)
        for name in STRAY_NAMES
        if (folder / name).exists()
    }


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = None
    threads = {}
    try:
        outputs = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
        threads = {engine: outputs["fundcdp"]["outputs"][engine].get("threads") for engine in ENGINES}
    except (OSError, KeyError, yaml.YAMLError):
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(PAGE_SIZE * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "java": java,
        **{
            package: version(package)
            for package in ("dbt-core", "dbt-duckdb", "dbt-spark", "pyspark", "duckdb")
        },
        "dbt_threads": threads,
    }


def scale_factor_of(run_dir: Path) -> float | None:
    found = re.match(r"sf([0-9.]+)-", run_dir.name)
    return float(found.group(1)) if found else None


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator > 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="data directory with a loaded raw/")
    parser.add_argument("--as-of", required=True, help="as_of_date of the builds, YYYY-MM-DD")
    parser.add_argument("--sf", type=float, default=None, help="scale factor (default: from sf<SF>-… DIR)")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--scratch-dir", type=Path, default=None, help="default DIR/../spark-bench-sf<SF>")
    parser.add_argument("--spark-driver-memory", default="8g", help="FUNDCDP_SPARK_DRIVER_MEMORY")
    parser.add_argument("--keep-scratch", action="store_true", help="keep the scratch directory")
    arguments = parser.parse_args()
    date.fromisoformat(arguments.as_of)
    run_dir = arguments.run_dir.expanduser().resolve()
    if not (run_dir / "raw").is_dir() or not any((run_dir / "raw").iterdir()):
        raise SystemExit(f"{run_dir}/raw is missing or empty: load the raw layer first")
    sf = arguments.sf if arguments.sf is not None else scale_factor_of(run_dir)
    if sf is None:
        raise SystemExit("--sf is needed: the run directory's name does not say it (sf<SF>-…)")
    label = f"sf{sf:g}"
    scratch = (arguments.scratch_dir or run_dir.parent / f"spark-bench-{label}").expanduser().resolve()

    strays_before = strays()
    linked = prepare_scratch(run_dir, scratch)
    print(f"scratch data directory {scratch}: {linked}", flush=True)
    engines = {
        engine: run_engine(engine, scratch, arguments.as_of, arguments.spark_driver_memory)
        for engine in ENGINES
    }
    new_strays = sorted(strays() - strays_before)
    spark_dir = scratch / "spark"

    duck, spark = engines["duckdb"], engines["spark"]
    both = duck["build"]["success"] and spark["build"]["success"]
    result = {
        "date": date.today().isoformat(),
        "scale_factor": sf,
        "as_of_date": arguments.as_of,
        "run_dir": str(run_dir),
        "duckdb_seconds": duck["build"]["seconds"],
        "spark_seconds": spark["build"]["seconds"],
        "ratio": ratio(spark["build"]["seconds"], duck["build"]["seconds"]),
        "startup_seconds": {engine: engines[engine]["startup"]["seconds"] for engine in ENGINES},
        "ratio_after_startup": ratio(
            spark["build"]["seconds"] - spark["startup"]["seconds"],
            duck["build"]["seconds"] - duck["startup"]["seconds"],
        ),
        "node_seconds_total": {
            engine: engines[engine]["build"]["node_seconds"].get("total") for engine in ENGINES
        },
        "slowest_models": {engine: engines[engine]["build"]["slowest_models"] for engine in ENGINES},
        "success": {engine: engines[engine]["build"]["success"] for engine in ENGINES},
        "engines": engines,
        "rows": table_rows(scratch),
        "spark_driver_memory": arguments.spark_driver_memory,
        "scratch": {
            "path": str(scratch),
            "linked": linked,
            "spark_metastore_in_scratch": (spark_dir / "metastore_db").is_dir(),
            "derby_log_in_scratch": (spark_dir / "derby.log").is_file(),
            "kept": arguments.keep_scratch or not both,
        },
        "stray_spark_files_in_repo": new_strays,
        "machine": machine(),
    }
    for engine in ENGINES:
        for step in ("startup", "build"):
            result["engines"][engine][step].pop("output", None)
    out = arguments.json_out or REPO / "bench" / "results" / f"{result['date']}-spark-{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not result["scratch"]["kept"]:
        shutil.rmtree(scratch)

    print()
    print(f"{'engine':8} {'start-up s':>10} {'build s':>8} {'dbt node s':>10} {'peak MiB':>9}  success")
    for engine in ENGINES:
        step = engines[engine]
        print(
            f"{engine:8} {step['startup']['seconds']:>10.1f} {step['build']['seconds']:>8.1f} "
            f"{step['build']['node_seconds'].get('total', 0.0):>10.1f} "
            f"{step['build']['peak_rss_mib']:>9.0f}  "
            f"{step['build']['success']} (rc {step['build']['returncode']}, {step['build']['summary']})"
        )
    print(
        f"ratio spark / duckdb ({label}, as of {arguments.as_of}): {result['ratio']} "
        f"(after start-up: {result['ratio_after_startup']})"
    )
    for table, counts in result["rows"].items():
        print(f"rows {table}: duckdb {counts['duckdb']}, spark {counts['spark']}")
    if new_strays:
        print(f"stray Spark files in the repository: {new_strays}")
    print(f"scratch {'kept' if result['scratch']['kept'] else 'removed'}: {scratch}")
    print(f"written: {out}")
    return 0 if both else 1


if __name__ == "__main__":
    raise SystemExit(main())
