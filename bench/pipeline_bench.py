"""Pipeline benchmark at a scale factor: time and memory per stage, against the cost of reading the input.

    python bench/pipeline_bench.py --sf 0.1        # 10k customers, 90 days, ~1M tracking events

Scale factor SF means 100,000 x SF customers over 90 days (SF1: 100k customers, ~10M events). Steps:

1. Demo sources for the SF (clean, ``--dirt none``: dirty data is the tests' business) are generated once
   into ``$FUNDCDP_BENCH_DIR/sources/sf<SF>`` (default ``$FUNDCDP_DATA_DIR/bench``) and reused;
   generation time is reported, not counted.
2. A fresh data directory gets the landing zone without its last day (hard links, no copy). The full run
   loads every day (ingest) and builds the warehouse as of the day before the last (dbt, quality gates,
   models, analytics, segments), in-process through Dagster, as ``make run`` does.
3. Segment preview latency on the built warehouse (``bench/preview_bench.py``).
4. Raw-read baseline, in a process of its own (its memory stays out of the pipeline's): DuckDB reads every
   landing file of every day once with every column parsed into a temporary table (not ``count(*)``,
   which skips parsing).
5. Incremental: the last day is delivered and the daily job runs for it alone.

The result file is written after each of steps 2-5, so that a run stopped midway (SF10 takes hours) keeps
what it measured; a part not measured is null.

Per stage: wall time (from Dagster's step records; dbt split by model folder from its run_results), rows in
and out, and the peak memory of the process tree (this process and dbt, sampled from /proc). Writes
``bench/results/<date>-sf<SF>.json`` and prints a table. No figure is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestration.defs.ingest.loader import read_json_columns  # noqa: E402
from orchestration.lib.layout import SOURCES, DataLayout  # noqa: E402
from orchestration.lib.relations import model_relation  # noqa: E402
from orchestration.lib.sources import SQL_TYPES, tables_of  # noqa: E402
from orchestration.lib.sql import quote_qualified  # noqa: E402

DAYS = 90
END_DATE = "2026-06-30"
CUSTOMERS_PER_SF = 100_000
BENCH_HASH_KEY = "fundcdp-benchmark-key"
# Disk a run needs per scale factor beyond the sources (warehouse, raw/, spill): SF10 used some 50 GiB.
DISK_GIB_PER_SF = 5


class MemorySampler:
    """Samples the resident memory of this process plus all its descendants (dbt) every ``interval``
    seconds from /proc, so that each stage gets its peak from the samples inside its time window."""

    def __init__(self, interval: float = 0.2, temp_root: Path | None = None) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (epoch seconds, bytes)
        # DuckDB's spill files: the `<database>.tmp` folders beside the data directory's databases
        self.temp_root = temp_root
        self.temp_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree_rss(self) -> int:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
            tree.update(children)
            frontier.extend(children)
        total = 0
        for pid in tree:
            try:
                with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                    total += int(handle.read().split()[1]) * self._page
            except (OSError, IndexError, ValueError):
                continue
        return total

    def _temp_bytes(self) -> int:
        total = 0
        try:
            for folder in self.temp_root.rglob("*.tmp") if self.temp_root else ():
                for path in folder.rglob("*") if folder.is_dir() else ():
                    try:
                        total += path.stat().st_size
                    except OSError:
                        continue  # removed between listing and stat
        except OSError:
            pass  # a spill folder removed while it was walked (the sampler crashed on it once): what was seen
        return total

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            self.samples.append((time.time(), self._tree_rss()))
            if tick % 5 == 0:  # the spill folders once a second
                self.temp_peak = max(self.temp_peak, self._temp_bytes())
            tick += 1
            self._stop.wait(self.interval)

    @property
    def temp_peak_mib(self) -> float | None:
        """The largest total size of DuckDB's spill folders seen, MiB (None when not watched)."""
        return round(self.temp_peak / 2**20, 1) if self.temp_root else None

    def peak_mib(self, windows: list[tuple[float, float]]) -> float | None:
        """The highest sample inside any of ``windows`` (epoch seconds), MiB."""
        inside = [rss for at, rss in self.samples if any(start <= at <= end for start, end in windows)]
        return round(max(inside) / 2**20, 1) if inside else None


def generate(sources: Path, sf: float) -> float | None:
    """Demo sources for ``sf`` into ``sources`` unless there; the seconds it took (None if reused)."""
    complete = sources / ".complete"
    if complete.exists():
        return None
    if sources.exists():  # an interrupted generation
        shutil.rmtree(sources)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "demo_sources.generate", "--data-dir", str(sources),
         "--customers", str(int(CUSTOMERS_PER_SF * sf)), "--days", str(DAYS), "--end-date", END_DATE,
         "--dirt", "none"],
        check=True, cwd=REPO,
    )  # fmt: skip
    complete.touch()
    return time.perf_counter() - started


def link_landing(sources: Path, layout: DataLayout, hold_back: str) -> list[Path]:
    """Hard-link the landing zone into ``layout``; the day ``hold_back`` goes to ``held/``. Returns the
    held folders (source/day)."""
    shutil.copytree(sources / "landing", layout.landing, copy_function=os.link, dirs_exist_ok=True)
    held = []
    for source in SOURCES:
        day = layout.landing_day(source, hold_back)
        if day.is_dir():
            target = layout.root / "held" / source / hold_back
            target.parent.mkdir(parents=True, exist_ok=True)
            day.rename(target)
            held.append(target)
    return held


RAW_READ_DAYS_PER_QUERY = 10


def raw_read_seconds(landing: Path, memory_limit: str, spill_dir: Path) -> tuple[float, int]:
    """Read every landing file once, every declared column parsed to its declared type, into a temporary
    table: per table, one query over the files of up to ``RAW_READ_DAYS_PER_QUERY`` days at a time (DuckDB
    reads the files of a query on both cores; at SF10 one temporary table of all 97M events would spill
    some 30 GB beside a warehouse of the same size, where ten days' worth stays in memory). try_cast, so a
    dirty value becomes null where the loader would quarantine it; the parsing work is the same. Under
    ``memory_limit`` (spilling to ``spill_dir``), as the pipeline's DuckDB. Returns (seconds, rows)."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(spill_dir)})
    rows = 0
    started = time.perf_counter()
    for source in SOURCES:
        for spec in tables_of(source):
            files = sorted(str(path) for path in (landing / source).glob(f"*/{spec.name}_*"))
            for first in range(0, len(files), RAW_READ_DAYS_PER_QUERY):
                rows += _parse_into_temp_table(con, spec, files[first : first + RAW_READ_DAYS_PER_QUERY])
    seconds = time.perf_counter() - started
    con.close()
    return seconds, rows


def _parse_into_temp_table(con: duckdb.DuckDBPyConnection, spec, files: list[str]) -> int:
    """Parse ``files`` of one table into the temporary table ``parsed`` (replacing it); its row count. The
    file list is a bound parameter (``read_csv(?)``, ``read_json(?)``): a path never becomes SQL text."""
    if spec.file_format == "csv":
        reader = "read_csv(?, header = true, all_varchar = true, union_by_name = true)"
        present = {row[0] for row in con.execute(f"describe select * from {reader}", [files]).fetchall()}
        values = [f'"{column.name}"' if column.name in present else "null" for column in spec.columns]
        source_sql = reader
    else:
        # DuckDB's fastest JSON route: read_json with the schema given (nested properties as a struct), as
        # the loader reads a clean file
        types, selects = read_json_columns(spec)
        source_sql = (
            f"(select {selects} from read_json(?, format = 'newline_delimited', "
            f"compression = 'gzip', columns = {types}))"
        )
        values = [column.name for column in spec.columns]
    columns = ", ".join(
        f"try_cast({value} as {SQL_TYPES[column.kind]}) as {column.name}"
        for value, column in zip(values, spec.columns, strict=True)
    )
    con.execute(f"create or replace temp table parsed as select {columns} from {source_sql}", [files])
    return con.execute("select count(*) from parsed").fetchone()[0]


def raw_read_in_subprocess(landing: Path, memory_limit: str, spill_dir: Path) -> tuple[float, int]:
    """:func:`raw_read_seconds` in a fresh Python process: its DuckDB memory (up to the limit) never
    stays in this process, whose resident memory is what the pipeline's peaks are sampled from."""
    done = subprocess.run(
        [sys.executable, __file__, "--raw-read", str(landing), "--memory-limit", memory_limit,
         "--spill-dir", str(spill_dir)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["seconds"], figures["rows"]


def stage_of(step_key: str) -> str:
    if step_key == "privacy" or "__" in step_key and step_key.split("__")[0] in SOURCES:
        return "ingest"
    if step_key == "fundcdp_dbt_models":
        return "dbt"
    if "_gx_" in step_key:
        return "checks"
    if step_key.startswith("models__") or step_key == "marts__tags_model":
        return "models"
    if step_key.startswith("segments"):
        return "segments"
    if step_key == "analytics":
        return "publish"
    return "other"


def step_windows(instance, run_id: str) -> dict[str, list[tuple[float, float]]]:
    """(start, end) epoch seconds of each Dagster step of a run, by stage."""
    windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for stats in instance.get_run_step_stats(run_id):
        if stats.start_time and stats.end_time:
            windows[stage_of(stats.step_key)].append((stats.start_time, stats.end_time))
    return dict(windows)


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def dbt_folder_of(node: dict, unique_id: str) -> str:
    fqn = node.get("fqn", [])
    if unique_id.startswith("test."):
        return "tests"
    if "identity" in fqn:
        return "identity"
    if "tags" in fqn:
        return "tags"
    return fqn[1] if len(fqn) > 2 else "other"


def dbt_nodes(target: Path) -> dict[str, dict]:
    """Per model folder (staging, identity, tags, …) of the last build: node seconds (summed over dbt's
    threads), the wall window of its nodes, and the relations it built."""
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    folders: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "windows": [], "relations": []})
    for result in results:
        node = manifest["nodes"].get(result["unique_id"], {})
        folder = folders[dbt_folder_of(node, result["unique_id"])]
        folder["seconds"] += result["execution_time"]
        timing = [t for t in result.get("timing", []) if t.get("started_at") and t.get("completed_at")]
        if timing:
            folder["windows"].append((_epoch(timing[0]["started_at"]), _epoch(timing[-1]["completed_at"])))
        if node.get("resource_type") == "model" and node.get("config", {}).get("materialized") != "ephemeral":
            folder["relations"].append(f"{node['schema']}.{node.get('alias') or node['name']}")
    return dict(folders)


def largest_nodes(target: Path, count: int = 15) -> dict[str, float]:
    """The ``count`` dbt nodes of the last build with the most execution seconds (models by name; data
    tests summed as ``data tests``), largest first."""
    path = target / "run_results.json"
    if not path.exists():
        return {}
    seconds: dict[str, float] = defaultdict(float)
    for result in json.loads(path.read_text(encoding="utf-8"))["results"]:
        unique_id = result["unique_id"]
        name = "data tests" if unique_id.startswith("test.") else unique_id.split(".")[-1]
        seconds[name] += result["execution_time"]
    largest = sorted(seconds.items(), key=lambda item: -item[1])[:count]
    return {name: round(value, 1) for name, value in largest}


def wall_seconds(windows: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of ``windows`` (nodes of one folder run on two threads)."""
    covered, end = 0.0, float("-inf")
    for start, stop in sorted(windows):
        if stop <= end:
            continue
        covered += stop - max(start, end)
        end = stop
    return covered


def relation_rows(database: Path, relations: list[str]) -> dict[str, int]:
    con = duckdb.connect(str(database), read_only=True)
    rows = {}
    try:
        for relation in sorted(set(relations)):
            try:
                name = quote_qualified(*relation.split(".", 1))
                rows[relation] = con.execute(f"select count(*) from {name}").fetchone()[0]
            except duckdb.Error:
                continue  # dropped since (a temporary relation) or not in this database
    finally:
        con.close()
    return rows


def ingest_rows(layout: DataLayout) -> dict[str, int]:
    """Lines read, rows loaded and quarantined by the loads so far (the load manifest)."""
    manifest = layout.raw / "ingest" / "load_manifest" / "*" / "*.parquet"
    con = duckdb.connect()
    try:
        lines, loaded, quarantined = con.execute(
            "select sum(lines_read), sum(rows_loaded), sum(rows_quarantined) "
            "from read_parquet(?) where status in ('loaded', 'corrected', 'redacted')",
            [str(manifest)],
        ).fetchone()
    finally:
        con.close()
    return {
        "lines_read": int(lines or 0),
        "rows_loaded": int(loaded or 0),
        "rows_quarantined": int(quarantined or 0),
    }


class RecordedRun:
    """A run of another process, read back from the Dagster instance: what the figures need of it."""

    def __init__(self, instance, run) -> None:
        import dagster as dg

        self.run_id = run.run_id
        self.success = run.status == dg.DagsterRunStatus.SUCCESS
        self._instance = instance

    def get_asset_check_evaluations(self) -> list:
        import dagster as dg

        records = self._instance.all_logs(self.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        return [record.dagster_event.event_specific_data for record in records]


def daily_run_in_subprocess(instance, day: str) -> RecordedRun:
    """The daily job for ``day`` as an operator runs it, ``python -m orchestration.cli day``, in a process of
    its own: the day partitions end at the latest delivery when the code location loads, so this process's
    definitions (loaded before the day was delivered) have no partition for it."""
    import dagster as dg

    subprocess.run([sys.executable, "-m", "orchestration.cli", "day", day], cwd=REPO, check=False)
    (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": day}), limit=1)
    return RecordedRun(instance, run)


def failed_checks(result) -> list[str]:
    """Asset checks that did not pass (a quality gate blocks publishing; the run's time is still measured)."""
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def completed(result) -> bool:
    """The run succeeded, or failed because a quality gate did not pass (publishing blocked): its stages
    ran and its figures stand, with the gate listed. A run that failed only otherwise did not complete."""
    return result.success or bool(failed_checks(result))


def table_rows(database: Path, models: list[str]) -> dict[str, int | None]:
    """Rows per dbt model, keyed ``schema.identifier`` as the results have always named them; None for a
    table a failed run never built."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        built = {(schema, name) for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() union all "
            "select schema_name, view_name from duckdb_views()").fetchall()}  # fmt: skip
        return {
            f"{where.schema}.{where.identifier}": (
                con.execute(f"select count(*) from {where.quoted}").fetchone()[0]
                if (where.schema, where.identifier) in built
                else None
            )
            for where in (model_relation(model) for model in models)
        }
    finally:
        con.close()


def peak_mib() -> dict[str, float]:
    # ru_maxrss is in KiB on Linux; children: the largest child process (dbt) that has ended.
    return {
        "process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def stage_table(
    instance, runs: list, layout: DataLayout, dbt: dict[str, dict], sampler: MemorySampler
) -> dict[str, dict]:
    """Per stage of the full run: wall seconds, peak memory of the process tree, rows in and out. The dbt
    step is split into its model folders (staging, intermediate, identity, tags, marts, …) by node timing."""
    windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for run in runs:
        for stage, spans in step_windows(instance, run.run_id).items():
            windows[stage].extend(spans)
    stages: dict[str, dict] = {}
    for stage in ("ingest", "dbt", "checks", "models", "segments", "publish", "other"):
        if windows.get(stage):
            stages[stage] = {
                "seconds": round(wall_seconds(windows[stage]), 1),
                "peak_memory_mib": sampler.peak_mib(windows[stage]),
            }
    if "ingest" in stages:
        stages["ingest"]["rows"] = ingest_rows(layout)
    for folder, figures in sorted(dbt.items()):
        entry = {
            "wall_seconds": round(wall_seconds(figures["windows"]), 1),
            "node_seconds": round(figures["seconds"], 1),
            "peak_memory_mib": sampler.peak_mib(figures["windows"]),
        }
        if figures["relations"]:
            rows = relation_rows(layout.warehouse_db, figures["relations"])
            entry["rows_out"] = sum(rows.values())
            entry["largest_relations"] = dict(sorted(rows.items(), key=lambda item: -item[1])[:5])
        stages.setdefault("dbt", {}).setdefault("folders", {})[folder] = entry
    if layout.segments_db.exists():
        con = duckdb.connect(str(layout.segments_db), read_only=True)
        try:
            (segments, members) = con.execute(
                "select count(*), sum(size) from segment_versions where status = 'published'"
            ).fetchone()
        finally:
            con.close()
        stages.setdefault("segments", {})["rows"] = {
            "published_versions": segments,
            "members": int(members or 0),
        }
    if layout.analytics_db.exists():
        con = duckdb.connect(str(layout.analytics_db), read_only=True)
        try:
            tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
            published = {
                f"{schema}.{name}": con.execute(
                    f"select count(*) from {quote_qualified(schema, name)}"
                ).fetchone()[0]
                for schema, name in tables
            }
        finally:
            con.close()
        stages.setdefault("publish", {})["rows"] = {"tables": len(published), "rows": sum(published.values())}
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=0.1)
    parser.add_argument("--bench-dir", type=Path, default=None)
    parser.add_argument("--preview-repeats", type=int, default=20)
    parser.add_argument("--memory-limit", default=os.environ.get("FUNDCDP_DUCKDB_MEMORY_LIMIT", "8GB"))
    parser.add_argument("--raw-read", type=Path, help=argparse.SUPPRESS)  # internal: the raw read alone
    parser.add_argument("--spill-dir", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.raw_read:
        seconds, rows = raw_read_seconds(arguments.raw_read, arguments.memory_limit, arguments.spill_dir)
        print(json.dumps({"seconds": seconds, "rows": rows}))
        return 0
    sf = arguments.sf
    label = f"sf{sf:g}"
    bench_dir = arguments.bench_dir or Path(
        os.environ.get("FUNDCDP_BENCH_DIR")
        or Path(os.environ.get("FUNDCDP_DATA_DIR") or REPO / "data") / "bench"
    )
    sources = bench_dir / "sources" / label
    generation = generate(sources, sf)
    print(
        f"sources {sources}: " + (f"generated in {generation:.1f} s" if generation else "reused"), flush=True
    )

    for previous in (bench_dir / "runs").glob(f"{label}-*"):  # one run directory per SF at a time
        shutil.rmtree(previous)
    layout = DataLayout.at(bench_dir / "runs" / f"{label}-{int(time.time())}")
    layout.ensure()
    days = sorted({d for source in SOURCES for d in DataLayout.at(sources).landing_days(source)})
    last, full_days = days[-1], days[:-1]
    held = link_landing(sources, layout, last)
    # The warehouse, raw/ and DuckDB's spill folder need room (landing/ is hard-linked): at SF10 the
    # warehouse reached 28 GiB and the run of 2026-12-07 stopped when the spill filled the disk.
    free_gib = shutil.disk_usage(layout.root).free / 2**30
    if free_gib < DISK_GIB_PER_SF * sf:
        print(f"warning: {free_gib:.0f} GiB free under {layout.root}; SF{sf:g} may need about "
              f"{DISK_GIB_PER_SF * sf:.0f} GiB (warehouse, raw/ and spill)", flush=True)  # fmt: skip

    os.environ.update(
        {
            "FUNDCDP_DATA_DIR": str(layout.root),
            "FUNDCDP_HASH_KEY": os.environ.get("FUNDCDP_HASH_KEY", BENCH_HASH_KEY),
            "FUNDCDP_DUCKDB_MEMORY_LIMIT": arguments.memory_limit,
            "DAGSTER_HOME": str(layout.dagster_home),
            "DBT_LOG_PATH": str(layout.logs / "dbt"),
            "DBT_PROFILES_DIR": str(REPO / "dbt_project"),
        }
    )
    import dagster as dg

    from orchestration.lib.instance import ensure_instance_config
    from orchestration.runner import build_warehouse, load_raw

    sys.path.insert(0, str(REPO / "bench"))
    from preview_bench import preview_latency

    ensure_instance_config(layout.dagster_home)
    instance = dg.DagsterInstance.get()

    with MemorySampler(temp_root=layout.root) as sampler:
        started = time.perf_counter()
        load = load_raw(instance, full_days)
        loaded = time.perf_counter()
        build = build_warehouse(instance, full_days[-1])
        full_seconds = time.perf_counter() - started
        full_window = [(time.time() - full_seconds, time.time())]
    dbt = dbt_nodes(layout.dbt_target)
    full_nodes = largest_nodes(layout.dbt_target)
    stages = stage_table(instance, [load, build], layout, dbt, sampler)
    print(
        f"full run: {full_seconds:.1f} s (load {loaded - started:.1f} s), success {build.success}", flush=True
    )

    result = {
        "date": date.today().isoformat(),
        "scale_factor": sf,
        "customers": int(CUSTOMERS_PER_SF * sf),
        "days": DAYS,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "dagster": dg.__version__,
            "duckdb_memory_limit": arguments.memory_limit,
        },
        "generation_seconds": round(generation, 1) if generation else None,
        "disk_free_gib_at_start": round(free_gib, 1),
        "raw_read": None,
        "full_run": {
            "seconds": round(full_seconds, 1),
            "success": build.success and load.success,
            "failed_checks": failed_checks(load) + failed_checks(build),
            "stages_seconds": {n: f["seconds"] for n, f in stages.items() if "seconds" in f},
            "stages": stages,
            "largest_nodes": full_nodes,
            "peak_memory_mib": {"process_tree": sampler.peak_mib(full_window), **peak_mib()},
            "temp_disk_peak_mib": sampler.temp_peak_mib,
            "pipeline_to_raw_read": None,
        },
        "daily_run": None,
        "segment_preview": None,
        "rows_out": table_rows(
            layout.warehouse_db,
            ["stg_tracking__events", "persons", "person_identifiers", "person_tags", "tag_history"],
        ),
        "peak_memory_mib": peak_mib(),
    }
    out_dir = REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{result['date']}-{label}.json"

    def save(part: str) -> None:
        """Written after each part, so that a run stopped midway keeps the parts it measured (null:
        not measured)."""
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"{part}: written to {out}", flush=True)

    save("full run")
    if not result["full_run"]["success"]:
        print("full run failed: the daily run, previews and raw read are not measured", flush=True)
        return 1

    result["segment_preview"] = preview = preview_latency(
        layout.warehouse_db, date.fromisoformat(full_days[-1]), arguments.preview_repeats
    )
    print(
        f"segment preview: median {preview['overall']['median_ms']} ms, "
        f"p95 {preview['overall']['p95_ms']} ms",
        flush=True,
    )
    save("segment preview")

    # Every landing file of every day (the sources: the run's landing zone lacks the held-back day).
    raw_seconds, raw_rows = raw_read_in_subprocess(
        sources / "landing", arguments.memory_limit, layout.root / "raw_read_spill"
    )
    print(f"raw read: {raw_rows:,} rows parsed in {raw_seconds:.1f} s", flush=True)
    result["raw_read"] = {"seconds": round(raw_seconds, 2), "rows": raw_rows}
    result["full_run"]["pipeline_to_raw_read"] = round(full_seconds / raw_seconds, 2) if raw_seconds else None
    save("raw read")

    for folder in held:
        target = layout.landing_day(folder.parent.name, last)
        folder.rename(target)
    # the daily run's dbt figures must not be the full run's if its dbt step does not run
    (layout.dbt_target / "run_results.json").unlink(missing_ok=True)
    with MemorySampler(temp_root=layout.root) as daily_sampler:
        started = time.perf_counter()
        daily = daily_run_in_subprocess(instance, last)
        daily_seconds = time.perf_counter() - started
        daily_window = [(time.time() - daily_seconds, time.time())]
    daily_dbt = dbt_nodes(layout.dbt_target) if (layout.dbt_target / "run_results.json").exists() else {}
    daily_nodes = largest_nodes(layout.dbt_target)
    daily_stages = stage_table(instance, [daily], layout, daily_dbt, daily_sampler)
    print(f"daily run for {last}: {daily_seconds:.1f} s, success {daily.success}", flush=True)
    result["daily_run"] = {
        "day": last,
        "seconds": round(daily_seconds, 1),
        "success": daily.success,
        "failed_checks": failed_checks(daily),
        "share_of_full_run": round(daily_seconds / full_seconds, 3),
        # a stage whose steps did not run (a gate failed before them) has no seconds
        "stages_seconds": {n: f["seconds"] for n, f in daily_stages.items() if "seconds" in f},
        "dbt_folders": daily_stages.get("dbt", {}).get("folders", {}),
        "largest_nodes": daily_nodes,
        "peak_memory_mib": {"process_tree": daily_sampler.peak_mib(daily_window)},
        "temp_disk_peak_mib": daily_sampler.temp_peak_mib,
    }
    save("daily run")
    print(json.dumps(result, indent=2))
    return 0 if all(completed(run) for run in (load, build, daily)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
