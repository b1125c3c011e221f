"""Segment preview latency: median and p95 over repeated previews of the starter segments.

    python bench/preview_bench.py --data-dir data/bench/runs/sf1-...   # a built warehouse
    python bench/preview_bench.py --data-dir DIR --as-of 2026-06-29 --repeats 20

What is timed is what a marketing user waits for with ``python -m orchestration.cli segments preview
<name>`` once the process is up: ``preview_segment`` (the segment's SQL run read-only against the warehouse,
size, exclusions, split and breakdowns counted by DuckDB), the span the CLI reports as ``seconds``.
``--fetch-rows`` times ``evaluate(...).preview()`` instead, every match fetched into Python and counted
there (what the ``segments`` asset does, as it publishes the members anyway): the CLI's path before it
counted in SQL. Python start-up, imports and loading the definitions are not counted (they are the same
for every segment and paid once per command). The definitions under ``segments/`` and the tag catalog are
loaded the way the CLI loads them.

Per segment, the first preview is a warm-up (DuckDB's buffer cache, the OS page cache, lazy imports) and is
excluded from the figures; then ``repeats`` previews are timed. p95 is the nearest-rank percentile (with 20
previews: the 19th fastest). Returns, and prints as a table, per segment {median_ms, p95_ms, size} and
overall {median_ms, p95_ms} across all timed previews of all segments. The target in the benchmark issue
is p95 under 200 ms at SF10. The result dict has the shape of ``segment_preview`` in the pipeline
benchmark's JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestration.defs.segments.definition import Catalog, load_segments  # noqa: E402
from orchestration.defs.segments.versions import evaluate, preview_segment  # noqa: E402
from orchestration.lib.as_of import built_as_of_date  # noqa: E402
from orchestration.lib.layout import DataLayout  # noqa: E402

TARGET_P95_MS = 200.0


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (0 < share <= 1)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def _figures(milliseconds: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(milliseconds), 1),
        "p95_ms": round(percentile(milliseconds, 0.95), 1),
    }


def preview_once(
    warehouse_db: Path, segment, catalog: Catalog, as_of: date, fetch_rows: bool = False
) -> tuple[float, dict]:
    """One preview as ``cli segments preview`` runs it (or with ``fetch_rows`` through every matched row):
    (milliseconds, the preview)."""
    started = time.perf_counter()
    if fetch_rows:
        preview = evaluate(warehouse_db, segment, catalog, as_of).preview()
    else:
        preview = preview_segment(warehouse_db, segment, catalog, as_of)
    return (time.perf_counter() - started) * 1000, preview


def preview_latency(warehouse_db: Path, as_of: date, repeats: int = 20, *, fetch_rows: bool = False) -> dict:
    """Time ``repeats`` previews of every starter segment after one warm-up preview each (the warm-up is
    excluded from the figures).

    Returns {"as_of_date", "repeats", "warm_up": 1, "path", "segments": {name: {median_ms, p95_ms, size}},
    "overall": {median_ms, p95_ms, previews}}."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    catalog = Catalog.load()
    definitions = load_segments(catalog=catalog)
    segments: dict[str, dict] = {}
    every: list[float] = []
    for segment in definitions:
        preview_once(warehouse_db, segment, catalog, as_of, fetch_rows)  # warm-up, excluded
        timings, size = [], None
        for _ in range(repeats):
            milliseconds, preview = preview_once(warehouse_db, segment, catalog, as_of, fetch_rows)
            timings.append(milliseconds)
            size = preview["size"]
        every.extend(timings)
        segments[segment.name] = {**_figures(timings), "size": size}
    return {
        "as_of_date": as_of.isoformat(),
        "repeats": repeats,
        "warm_up": 1,
        "path": "evaluate().preview()" if fetch_rows else "preview_segment()",
        "segments": segments,
        "overall": {**_figures(every), "previews": len(every)},
    }


def format_table(result: dict) -> str:
    names = list(result["segments"])
    width = max([len(name) for name in names] + [len("overall")])
    lines = [f"{'segment':<{width}}  {'size':>9}  {'median ms':>9}  {'p95 ms':>8}"]
    for name in names:
        row = result["segments"][name]
        lines.append(f"{name:<{width}}  {row['size']:>9,}  {row['median_ms']:>9.1f}  {row['p95_ms']:>8.1f}")
    overall = result["overall"]
    lines.append(f"{'overall':<{width}}  {'':>9}  {overall['median_ms']:>9.1f}  {overall['p95_ms']:>8.1f}")
    verdict = "met" if overall["p95_ms"] < TARGET_P95_MS else "missed"
    lines.append(
        f"{overall['previews']} previews through {result['path']} as of {result['as_of_date']} "
        f"({result['repeats']} per segment after one warm-up); "
        f"target p95 < {TARGET_P95_MS:g} ms (at SF10): {verdict} here"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a data directory (warehouse.duckdb)")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="default: the warehouse's built as-of date"
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--fetch-rows", action="store_true", help="time evaluate().preview() (every match fetched) instead"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON after the table")
    arguments = parser.parse_args(argv)
    warehouse_db = DataLayout.at(arguments.data_dir).warehouse_db
    if not warehouse_db.exists():
        parser.error(f"no warehouse at {warehouse_db}")
    as_of = arguments.as_of or built_as_of_date(warehouse_db)
    result = preview_latency(warehouse_db, as_of, arguments.repeats, fetch_rows=arguments.fetch_rows)
    print(format_table(result))
    if arguments.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
