"""Rewrite the results section of bench/README.md from every bench/results/*.json.

    python bench/report.py                      # prints the path it wrote

Recognised files (anything else is skipped, with a note on stderr):

- ``<date>-sf<SF>.json``: the pipeline benchmark (bench/pipeline_bench.py), latest result per scale factor;
- ``<date>-identity-<persons>.json``: ID-Mapping vs scipy / networkx (bench/identity_bench.py), latest per
  graph size;
- ``<date>-spark-sf<SF>.json``: DuckDB vs Spark at a scale factor, latest per scale factor;
- ``<date>-history-<N>d.json``: the history import (bench/history_bench.py), N days as N deliveries vs one
  delivery, latest per N;
- ``<date>-dashboards-<label>.json``: every dashboard board's render time in chromium and the daily report's
  (bench/dashboard_bench.py), latest per label.

Only the part between ``<!-- results:start -->`` and ``<!-- results:end -->`` is replaced, so the
hand-written text around it survives; a missing README is created with the standard introduction. Missing
keys show as "–"; a target is marked met / missed only where it applies and its figures are there.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

PIPELINE_FILE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-sf(?P<sf>\d+(?:\.\d+)?)\.json$")
IDENTITY_FILE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-identity-(?P<persons>\d+)\.json$")
SPARK_FILE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-spark-sf(?P<sf>\d+(?:\.\d+)?)\.json$")
HISTORY_FILE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-history-(?P<days>\d+)d\.json$")
DASHBOARDS_FILE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-dashboards-(?P<label>[a-z0-9.]+)\.json$")
FILE_KINDS = {
    "pipeline": PIPELINE_FILE,
    "identity": IDENTITY_FILE,
    "spark": SPARK_FILE,
    "history": HISTORY_FILE,
    "dashboards": DASHBOARDS_FILE,
}
KINDS = tuple(FILE_KINDS)
HISTORY_TARGET_RATIO = 1.5

STAGE_ORDER = ("ingest", "dbt", "checks", "models", "publish", "segments")
DASH = "–"

# The targets of the benchmark issue.
SF1_FULL_RUN_S = 180
SF10_FULL_RUN_S = 1200
SF10_PEAK_MIB = 8 * 1024
SF10_RAW_READ_RATIO = 3
SF10_TO_SF1 = 11
SF10_DAILY_SHARE = 0.05
SF10_PREVIEW_P95_MS = 200
IDENTITY_LINKS = 10_000_000
IDENTITY_TO_SCIPY = 1.5

INTRO = """# Benchmarks

Figures, not tests: nothing here asserts a number. Everything runs on generated demo data (clean, no
injected dirt), so a result depends only on the scale factor and the machine.

- `make bench` runs `bench/pipeline_bench.py --sf 0.1`, then `bench/identity_bench.py`, then this report;
  `make bench SF=1` (or `SF=10`) picks the scale factor, `BENCH_PERSONS=1000000` the ID-Mapping graph
  (10M links). Scale factor SF means SF × 100,000 customers over 90 days (SF1: 100k customers, about 10M
  tracking events). The sources are generated once under `$FUNDCDP_DATA_DIR/bench/sources/sf<SF>` and
  reused (generation time is printed, not counted); each run gets a fresh data directory
  `$FUNDCDP_DATA_DIR/bench/runs/sf<SF>-<timestamp>` (the previous one of that SF is deleted). DuckDB's
  memory limit is set (`FUNDCDP_DUCKDB_MEMORY_LIMIT`, 8GB in the benchmark): past it, it spills to disk.
  The pipeline benchmark
  1. runs the **full run** in-process through Dagster, as `make run` does: every day but the last loaded
     (ingest), then dbt, the quality gates, the models, `analytics.duckdb` and the segments as of the day
     before the last,
  2. times 20 **segment previews** per starter segment after one warm-up (what
     `python -m orchestration.cli segments preview <name>` waits for; `bench/preview_bench.py` alone),
  3. reads every landing file of every day once with DuckDB in a process of its own, every column parsed
     to its type (the **raw read**: the floor for anything that reads the input),
  4. delivers the last day and runs the **daily** job for it alone (incremental),

  and writes `bench/results/<date>-sf<SF>.json` after each step, so that a run stopped midway keeps what
  it measured (a part not measured shows as "–").
- `make bench-spark SF=0.1` builds the dbt layer (models and data tests, no unit tests) on a local Spark
  session and on DuckDB from the raw layer of the last `make bench SF=0.1` run and prints the ratio
  (`bench/spark_bench.py`, results `<date>-spark-sf<SF>.json`).
- `python bench/report.py` rewrites the tables below from every `bench/results/*.json` (latest result per
  scale factor / graph size). The results of each scale factor are committed.

**Reading the figures.** *Full run* is the wall time of loading and building. A stage's seconds are the
wall time covered by its Dagster steps (ingest: loading `raw/`; dbt: the whole `dbt build`, data tests
included; checks: the quality gates; models: the predictive models; publish: `analytics.duckdb`; segments:
evaluating and publishing them); the stage table splits dbt by model folder from dbt's node timings (wall
time covered, and node seconds summed over dbt's two threads). *Peak memory* is the resident memory of the
whole process tree (the benchmark process with Dagster and in-process DuckDB, plus dbt and anything it
starts), sampled from /proc every 0.2 s; a stage's peak is the highest sample inside its steps. *Pipeline /
raw read* is the full run divided by the raw read. *Daily* is the incremental run for one more day and its
share of the full run. *Preview* is the median and p95 (nearest rank) over all timed previews.

**Targets** (from the benchmark issue):

| target | where |
|---|---|
| full run < 3 min | SF1 |
| full run < 20 min, peak memory (process tree) < 8 GiB | SF10 |
| pipeline / raw read ≤ 3 | SF10 |
| time(SF10) / time(SF1) ≤ 11 (near-linear scaling) | SF10 vs SF1 |
| daily incremental run < 5 % of the full run | SF10 |
| ID-Mapping within 1.5× of scipy (issue 34) | a 10M-link graph (`BENCH_PERSONS=1000000`) |
| segment preview p95 < 200 ms | SF10 |

Smaller scale factors have no target: their rows show where the time goes.
"""


def get(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]…``, None when any step is missing or not a mapping."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def fmt(value: Any, digits: int = 1, thousands: bool = False) -> str:
    value = number(value)
    if value is None:
        return DASH
    if thousands:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def sf_label(value: Any) -> str:
    value = number(value)
    return DASH if value is None else f"SF{value:g}"


def load_results(directory: Path) -> dict[str, list[tuple[Path, dict]]]:
    """Recognised result files by kind (pipeline, identity, spark); unknown or unreadable ones skipped."""
    found: dict[str, list[tuple[Path, dict]]] = {kind: [] for kind in KINDS}
    for path in sorted(directory.glob("*.json")):
        matches = [(kind, pattern.match(path.name)) for kind, pattern in FILE_KINDS.items()]
        kind, match = next(((kind, match) for kind, match in matches if match), (None, None))
        if match is None:
            print(f"skipped {path.name}: not a known result file name", file=sys.stderr)
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as problem:
            print(f"skipped {path.name}: {problem}", file=sys.stderr)
            continue
        if not isinstance(data, dict):
            print(f"skipped {path.name}: not a JSON object", file=sys.stderr)
            continue
        # the file name fills in what the JSON lacks
        data.setdefault("date", match["date"])
        if kind in ("pipeline", "spark"):
            data.setdefault("scale_factor", float(match["sf"]))
        elif kind == "history":
            data.setdefault("days", int(match["days"]))
        elif kind == "dashboards":
            data.setdefault("label", match["label"])
        else:
            data.setdefault("persons", int(match["persons"]))
        found[kind].append((path, data))
    return found


def latest_by(results: list[tuple[Path, dict]], key: str) -> list[tuple[Path, dict]]:
    """The latest result (by date, then file modification time) per value of ``key``, sorted by it."""
    best: dict[Any, tuple[Path, dict]] = {}
    for path, data in results:
        value = number(data.get(key))
        order = (str(data.get("date")), path.stat().st_mtime)
        if value not in best or order > (str(best[value][1].get("date")), best[value][0].stat().st_mtime):
            best[value] = (path, data)
    return [best[value] for value in sorted(best, key=lambda v: (v is None, v or 0))]


VERSIONS = (
    ("python", "Python"), ("duckdb", "DuckDB"), ("dagster", "Dagster"), ("dbt", "dbt"), ("spark", "Spark"),
    ("pyspark", "PySpark"), ("scipy", "scipy"), ("networkx", "networkx"),
)  # fmt: skip


def machine_line(results: list[tuple[Path, dict]]) -> str:
    """Cores, memory and versions from the results' ``machine``; one line per distinct (cores, memory)."""
    machines: dict[tuple, dict] = {}
    for path, data in results:
        machine = data.get("machine")
        if not isinstance(machine, dict) or not machine:
            continue
        entry = machines.setdefault(
            (machine.get("cores"), machine.get("memory_gib")), {"files": [], "versions": {}}
        )
        entry["files"].append(path.name)
        for name, _ in VERSIONS:
            if machine.get(name) is not None:
                entry["versions"].setdefault(name, []).append(str(machine[name]))
    lines = []
    for (cores, memory), entry in machines.items():
        parts = [
            f"{cores if cores is not None else '?'} cores",
            f"{memory if memory is not None else '?'} GiB memory",
        ]
        for name, label in VERSIONS:
            if name in entry["versions"]:
                parts.append(f"{label} {' / '.join(sorted(set(entry['versions'][name])))}")
        lines.append(", ".join(parts))
        if len(machines) > 1:
            lines[-1] = f"- {lines[-1]} ({', '.join(entry['files'])})"
    if not lines:
        return ""
    if len(lines) == 1:
        return f"**Machine**: {lines[0]}."
    return "**Machines**:\n\n" + "\n".join(lines)


def verdict(name: str, ok: bool | None) -> str:
    if ok is None:
        return f"{name}: not measured"
    return f"{name}: {'met' if ok else 'missed'}"


def peak_mib(data: dict) -> tuple[float | None, float | None]:
    """(process, children) MiB: the benchmark's overall peak, else the full run's."""
    peak = data.get("peak_memory_mib") if isinstance(data.get("peak_memory_mib"), dict) else None
    peak = peak or get(data, "full_run", "peak_memory_mib") or {}
    return number(get(peak, "process")), number(get(peak, "children"))


def peak_tree_mib(data: dict) -> float | None:
    """The full run's peak of the whole process tree (sampled), else process + largest child (a bound)."""
    tree = number(get(data, "full_run", "peak_memory_mib", "process_tree"))
    if tree is not None:
        return tree
    process, children = peak_mib(data)
    return None if process is None else process + (children or 0)


def stage_detail(path: Path, data: dict) -> list[str]:
    """Per stage of the full run (and dbt per model folder): wall s, peak MiB of the process tree, rows."""
    stages = get(data, "full_run", "stages")
    if not isinstance(stages, dict):
        return []
    lines = [
        "",
        f"Stages of the full run, {sf_label(data.get('scale_factor'))} ({path.name}):",
        "",
        "| stage | wall s | peak MiB | rows |",
        "|---|---|---|---|",
    ]
    for name, figures in stages.items():
        rows = get(figures, "rows")
        rows_text = (
            ", ".join(f"{k} {fmt(v, thousands=True)}" for k, v in rows.items())
            if isinstance(rows, dict)
            else DASH
        )
        peak = fmt(get(figures, "peak_memory_mib"), thousands=True)
        lines.append(f"| {name} | {fmt(get(figures, 'seconds'))} | {peak} | {rows_text} |")
        for folder, entry in (get(figures, "folders") or {}).items():
            largest = get(entry, "largest_relations") or {}
            top = next(iter(largest.items()), None)
            rows_text = f"out {fmt(get(entry, 'rows_out'), thousands=True)}" + (
                f" (largest {top[0]}: {fmt(top[1], thousands=True)})" if top else ""
            )
            if get(entry, "rows_out") is None:
                rows_text = DASH
            wall = f"{fmt(get(entry, 'wall_seconds'))} (node s {fmt(get(entry, 'node_seconds'))})"
            peak = fmt(get(entry, "peak_memory_mib"), thousands=True)
            lines.append(f"| dbt · {folder} | {wall} | {peak} | {rows_text} |")
    return lines


def largest_nodes_table(path: Path, data: dict) -> list[str]:
    """The largest dbt nodes of the full and the daily run, node seconds (results since 2026-12-07)."""
    full = get(data, "full_run", "largest_nodes") or {}
    daily = get(data, "daily_run", "largest_nodes") or {}
    if not full and not daily:
        return []
    lines = [
        "",
        f"Largest dbt nodes, {sf_label(data.get('scale_factor'))} ({path.name}), node seconds:",
        "",
        "| node | full run | daily run |",
        "|---|---|---|",
    ]
    for name in list(full) + [name for name in daily if name not in full]:
        lines.append(f"| {name} | {fmt(full.get(name))} | {fmt(daily.get(name))} |")
    return lines


def pipeline_targets(data: dict, sf1: dict | None) -> str:
    sf = number(data.get("scale_factor"))
    full = number(get(data, "full_run", "seconds"))
    if sf == 1:
        return verdict("full < 3 min", None if full is None else full < SF1_FULL_RUN_S)
    if sf != 10:
        return DASH
    ratio = number(get(data, "full_run", "pipeline_to_raw_read"))
    share = number(get(data, "daily_run", "share_of_full_run"))
    p95 = number(get(data, "segment_preview", "overall", "p95_ms"))
    sf1_full = number(get(sf1, "full_run", "seconds")) if sf1 else None
    memory = peak_tree_mib(data)
    return "; ".join(
        [
            verdict("full < 20 min", None if full is None else full < SF10_FULL_RUN_S),
            verdict("peak < 8 GiB", None if memory is None else memory < SF10_PEAK_MIB),
            verdict("÷ raw read ≤ 3", None if ratio is None else ratio <= SF10_RAW_READ_RATIO),
            verdict(
                "SF10 / SF1 ≤ 11",
                None if full is None or not sf1_full else full / sf1_full <= SF10_TO_SF1,
            ),
            verdict("daily < 5 %", None if share is None else share < SF10_DAILY_SHARE),
            verdict("preview p95 < 200 ms", None if p95 is None else p95 < SF10_PREVIEW_P95_MS),
        ]
    )


def pipeline_table(results: list[tuple[Path, dict]]) -> list[str]:
    latest = latest_by(results, "scale_factor")
    stages: list[str] = []
    for _, data in latest:
        for stage in get(data, "full_run", "stages_seconds") or {}:
            if stage not in stages:
                stages.append(stage)
    stages.sort(key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER), s))
    sf1 = next((data for _, data in latest if number(data.get("scale_factor")) == 1), None)
    header = (
        ["scale", "date", "customers", "tracking events", "raw read s", "full run s", "pipeline / raw read"]
        + [f"{stage} s" for stage in stages]
        + [
            "peak MiB (process tree)",
            "spill peak MiB",
            "daily s (share)",
            "preview ms (median / p95)",
            "targets",
        ]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes = []
    for path, data in latest:
        daily = number(get(data, "daily_run", "seconds"))
        share = number(get(data, "daily_run", "share_of_full_run"))
        daily_text = fmt(daily) + (f" ({share:.1%})" if share is not None else "")
        median = get(data, "segment_preview", "overall", "median_ms")
        p95 = get(data, "segment_preview", "overall", "p95_ms")
        preview = DASH if median is None and p95 is None else f"{fmt(median)} / {fmt(p95)}"
        row = (
            [
                sf_label(data.get("scale_factor")),
                str(data.get("date", DASH)),
                fmt(data.get("customers"), thousands=True),
                fmt(get(data, "rows_out", "main_staging.stg_tracking__events"), thousands=True),
                fmt(get(data, "raw_read", "seconds")),
                fmt(get(data, "full_run", "seconds")),
                fmt(get(data, "full_run", "pipeline_to_raw_read"), 2),
            ]
            + [fmt(get(data, "full_run", "stages_seconds", stage)) for stage in stages]
            + [
                fmt(peak_tree_mib(data), thousands=True),
                fmt(get(data, "full_run", "temp_disk_peak_mib"), thousands=True),
                daily_text,
                preview,
                pipeline_targets(data, sf1),
            ]
        )
        lines.append("| " + " | ".join(row) + " |")
        label = f"{sf_label(data.get('scale_factor'))} ({path.name})"
        if data.get("note"):  # how a result was measured where it differs from a plain `make bench`
            notes.append(f"- {label}: {data['note']}")
        for run in ("full_run", "daily_run"):
            failed = get(data, run, "failed_checks") or []
            if get(data, run, "success") is False or failed:
                what = f"had failing checks ({', '.join(map(str, failed))})" if failed else "did not succeed"
                notes.append(f"- {label}: the {run.replace('_', ' ')} {what}.")
    if notes:
        lines += ["", *notes]
    for path, data in latest:
        lines += stage_detail(path, data)
        lines += largest_nodes_table(path, data)
    for path, data in latest:
        if not isinstance(get(data, "segment_preview", "segments"), dict):
            continue
        lines += [
            "",
            f"Segment preview per segment, {sf_label(data.get('scale_factor'))} ({path.name}):",
            "",
            "| segment | size | median ms | p95 ms |",
            "|---|---|---|---|",
        ]
        for name, figures in data["segment_preview"]["segments"].items():
            lines.append(
                f"| {name} | {fmt(get(figures, 'size'), thousands=True)} | {fmt(get(figures, 'median_ms'))} "
                f"| {fmt(get(figures, 'p95_ms'))} |"
            )
    return lines


def identity_table(results: list[tuple[Path, dict]]) -> list[str]:
    header = ["persons", "links", "date", "fundcdp s", "scipy s", "networkx s", "fundcdp / scipy",
              "networkx / scipy", "same partition", "target (≤ 1.5× scipy at 10M links)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, data in latest_by(results, "persons"):
        seconds = data.get("seconds") if isinstance(data.get("seconds"), dict) else {}
        fundcdp, scipy = number(seconds.get("fundcdp")), number(seconds.get("scipy"))
        ratio = number(get(data, "ratios", "fundcdp_to_scipy"))
        if ratio is None and fundcdp is not None and scipy:
            ratio = fundcdp / scipy
        networkx_ratio = number(get(data, "ratios", "networkx_to_scipy"))
        identical = data.get("partitions_identical")
        if isinstance(identical, dict):
            same = ", ".join(
                f"{peer} {'yes' if ok else 'no'}" for peer, ok in identical.items() if ok is not None
            )
        elif isinstance(identical, bool):
            same = "yes" if identical else "no"
        else:
            same = DASH
        links = number(data.get("links"))
        if links is not None and links >= IDENTITY_LINKS:
            target = verdict("≤ 1.5×", None if ratio is None else ratio <= IDENTITY_TO_SCIPY)
        else:
            target = DASH
        row = [
            fmt(data.get("persons"), thousands=True),
            fmt(links, thousands=True),
            str(data.get("date", DASH)),
            fmt(fundcdp),
            fmt(scipy),
            fmt(seconds.get("networkx")),
            DASH if ratio is None else f"{ratio:.2f}×",
            DASH if networkx_ratio is None else f"{networkx_ratio:.2f}×",
            same or DASH,
            target,
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def spark_table(results: list[tuple[Path, dict]]) -> list[str]:
    lines = ["| scale | date | DuckDB s | Spark s | Spark / DuckDB |", "|---|---|---|---|---|"]
    for _, data in latest_by(results, "scale_factor"):
        duck, spark = number(data.get("duckdb_seconds")), number(data.get("spark_seconds"))
        ratio = spark / duck if spark is not None and duck else number(data.get("ratio"))
        row = [
            sf_label(data.get("scale_factor")),
            str(data.get("date", DASH)),
            fmt(duck),
            fmt(spark),
            DASH if ratio is None else f"{ratio:.2f}×",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def history_table(results: list[tuple[Path, dict]]) -> list[str]:
    """N days as N deliveries vs the same rows as one delivery, both through ``cli import-history``."""
    lines = [
        "| days | customers | orders | date | N deliveries s (ingest / dbt) | one delivery s (ingest / dbt) "
        "| ratio | target ≤ 1.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, data in latest_by(results, "days"):
        daily, one = get(data, "variants", "daily") or {}, get(data, "variants", "one_delivery") or {}

        def cell(variant: dict) -> str:
            stages = variant.get("stages_seconds") or {}
            failed = "" if variant.get("success", True) else ", failed"
            split = f"{fmt(stages.get('ingest'))} / {fmt(stages.get('dbt'))}"
            return f"{fmt(variant.get('seconds'))} ({split}{failed})"

        seconds = number(daily.get("seconds")), number(one.get("seconds"))
        ratio = seconds[0] / seconds[1] if None not in seconds and seconds[1] else number(data.get("ratio"))
        row = [
            fmt(data.get("days"), 0, thousands=True),
            fmt(data.get("customers"), 0, thousands=True),
            fmt(data.get("orders"), 0, thousands=True),
            str(data.get("date", DASH)),
            cell(daily),
            cell(one),
            DASH if ratio is None else f"{ratio:.2f}",
            verdict("ratio", None if ratio is None else ratio <= HISTORY_TARGET_RATIO),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def dashboards_table(results: list[tuple[Path, dict]]) -> list[str]:
    """Median render time of each board in chromium (navigation to every panel drawn), per data set."""
    latest: dict[str, dict] = {}
    for _path, data in sorted(results, key=lambda item: (str(item[1].get("date")), item[0].stat().st_mtime)):
        latest[str(data.get("label"))] = data
    lines = []
    for label, data in latest.items():
        boards = data.get("boards") or {}
        slowest = number(data.get("slowest_board_s"))
        target = number(data.get("target_s")) or 2.0
        lines += [
            f"{label} ({data.get('date', DASH)}, analytics.duckdb {fmt(data.get('analytics_mib'))} MiB; "
            f"the daily report in both languages {fmt(data.get('report_s'))} s, "
            f"{fmt(data.get('report_kib'), 0, thousands=True)} KiB):",
            "",
            f"| board | panels | render s (median) | queries ms | target ≤ {target:g} s |",
            "|---|---|---|---|---|",
        ]
        for board, figures in boards.items():
            seconds = number(figures.get("median_s"))
            lines.append(
                f"| {board} | {figures.get('panels', DASH)} | {fmt(seconds, 2)} | "
                f"{fmt(figures.get('query_ms_median'), 0)} | "
                f"{verdict('render', None if seconds is None else seconds <= target)} |"
            )
        if slowest is not None:
            lines += ["", f"Slowest board: {slowest:.2f} s.", ""]
    return lines


def results_section(found: dict[str, list[tuple[Path, dict]]]) -> str:
    lines = [START, "", "## Results", "", "Generated by `python bench/report.py` from bench/results/*.json."]
    everything = [item for kind in KINDS for item in found[kind]]
    if not everything:
        lines += ["", "No results yet: run `make bench`.", "", END]
        return "\n".join(lines) + "\n"
    machine = machine_line(everything)
    if machine:
        lines += ["", machine]
    if found["pipeline"]:
        lines += ["", "### Pipeline", "", *pipeline_table(found["pipeline"])]
    if found["identity"]:
        lines += ["", "### ID-Mapping vs scipy", "", *identity_table(found["identity"])]
    if found["spark"]:
        lines += ["", "### DuckDB vs Spark", "", *spark_table(found["spark"])]
    if found["history"]:
        lines += ["", "### History import", "", *history_table(found["history"])]
    if found["dashboards"]:
        lines += ["", "### Dashboards", "", *dashboards_table(found["dashboards"])]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_readme(readme: Path, section: str) -> None:
    """Replace the text between the markers (markers included); create the README with the intro if absent,
    append the section if the markers are missing."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else INTRO
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(END) :]
        if not text.endswith("\n"):
            text += "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of result JSON files")
    parser.add_argument("--readme", type=Path, default=README, help="the README to (re)write")
    arguments = parser.parse_args(argv)
    write_readme(arguments.readme, results_section(load_results(arguments.results)))
    print(arguments.readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
