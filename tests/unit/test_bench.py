"""The benchmark's own arithmetic and report (no benchmark is run here: figures are never asserted)."""

import json
import sys
from pathlib import Path

from orchestration.lib.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import pipeline_bench  # noqa: E402
import report  # noqa: E402


def test_a_stage_s_wall_time_counts_overlapping_steps_once():
    # dbt runs two nodes at once: 0-2 and 1-3 overlap, 5-6 stands apart, 5.5-5.8 lies inside it
    assert pipeline_bench.wall_seconds([(1.0, 3.0), (0.0, 2.0), (5.0, 6.0), (5.5, 5.8)]) == 4.0
    assert pipeline_bench.wall_seconds([]) == 0.0


def test_a_stage_s_peak_memory_is_the_highest_sample_inside_its_steps():
    sampler = pipeline_bench.MemorySampler()
    sampler.samples = [(0.5, 100 * 2**20), (1.5, 900 * 2**20), (2.5, 300 * 2**20), (4.0, 50 * 2**20)]
    assert sampler.peak_mib([(2.0, 3.0), (3.5, 4.5)]) == 300.0
    assert sampler.peak_mib([(10.0, 11.0)]) is None


def test_the_largest_nodes_are_models_by_name_and_data_tests_summed(tmp_path: Path):
    results = [
        {"unique_id": "model.fundcdp.int_session_events", "execution_time": 75.04},
        {"unique_id": "model.fundcdp.sessions", "execution_time": 18.0},
        {"unique_id": "test.fundcdp.not_null_sessions_person_id.abc", "execution_time": 10.0},
        {"unique_id": "test.fundcdp.unique_sessions_session_id.def", "execution_time": 12.5},
        {"unique_id": "model.fundcdp.persons", "execution_time": 1.0},
    ]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results}), encoding="utf-8")
    nodes = pipeline_bench.largest_nodes(tmp_path, count=3)
    assert list(nodes.items()) == [("int_session_events", 75.0), ("data tests", 22.5), ("sessions", 18.0)]
    assert pipeline_bench.largest_nodes(tmp_path / "absent") == {}


def test_the_temp_disk_peak_sums_duckdb_spill_folders_only(tmp_path: Path):
    (tmp_path / "warehouse.duckdb.tmp").mkdir()
    (tmp_path / "warehouse.duckdb.tmp" / "duckdb_temp_storage-0.tmp").write_bytes(b"x" * 3 * 2**20)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "events.parquet").write_bytes(b"x" * 2**20)  # not a spill file
    sampler = pipeline_bench.MemorySampler(temp_root=tmp_path)
    assert sampler._temp_bytes() == 3 * 2**20
    assert pipeline_bench.MemorySampler().temp_peak_mib is None


def pipeline_result(sf: float, full_s: float, **extra) -> dict:
    return {
        "date": "2026-12-02",
        "scale_factor": sf,
        "customers": int(sf * 100_000),
        "raw_read": {"seconds": full_s / 4, "rows": 1000},
        "full_run": {
            "seconds": full_s,
            "success": True,
            "failed_checks": [],
            "stages_seconds": {"ingest": full_s / 2, "dbt": full_s / 2},
            "stages": {
                "ingest": {"seconds": full_s / 2, "peak_memory_mib": 512.0, "rows": {"lines_read": 7}}
            },
            "peak_memory_mib": {"process_tree": 9000.0},
            "pipeline_to_raw_read": 4.0,
        },
        "daily_run": {"seconds": full_s / 10, "share_of_full_run": 0.1, "success": True, "failed_checks": []},
        "segment_preview": {"overall": {"median_ms": 40.0, "p95_ms": 90.0}},
        "rows_out": {"main_staging.stg_tracking__events": 123456},
        **extra,
    }


def test_the_report_marks_each_target_met_or_missed_and_keeps_the_text_outside_its_markers(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "2026-12-02-sf1.json").write_text(json.dumps(pipeline_result(1, 150.0)))
    (results / "2026-12-02-sf10.json").write_text(json.dumps(pipeline_result(10, 2000.0)))
    (results / "notes.json").write_text("{}")  # not a result file: skipped
    readme = tmp_path / "README.md"
    readme.write_text("# Mine\n\nhand-written\n\n<!-- results:start -->\nold\n<!-- results:end -->\n")
    assert report.main(["--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Mine\n\nhand-written\n") and "old" not in text
    sf1 = next(line for line in text.splitlines() if line.startswith("| SF1 |"))
    sf10 = next(line for line in text.splitlines() if line.startswith("| SF10 |"))
    assert "123,456" in sf1 and "full < 3 min: met" in sf1
    # 2000 s > 20 min, 9000 MiB > 8 GiB, ratio 4 > 3, 2000 / 150 > 11, daily 10 % > 5 %, p95 90 ms < 200 ms
    verdicts = [
        "full < 20 min: missed",
        "peak < 8 GiB: missed",
        "÷ raw read ≤ 3: missed",
        "SF10 / SF1 ≤ 11: missed",
        "daily < 5 %: missed",
        "preview p95 < 200 ms: met",
    ]
    for verdict in verdicts:
        assert verdict in sf10, verdict
    assert "| ingest | 1,000.0 | 512 | lines_read 7 |" in text


def test_a_run_stopped_midway_reports_the_parts_it_measured(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    partial = pipeline_result(10, 2000.0, raw_read=None, daily_run=None, note="ingest from an earlier run")
    partial["full_run"]["pipeline_to_raw_read"] = None
    (results / "2026-12-02-sf10.json").write_text(json.dumps(partial))
    readme = tmp_path / "README.md"
    assert report.main(["--results", str(results), "--readme", str(readme)]) == 0
    sf10 = next(line for line in readme.read_text().splitlines() if line.startswith("| SF10 |"))
    assert "daily < 5 %: not measured" in sf10 and "÷ raw read ≤ 3: not measured" in sf10
    assert "full < 20 min: missed" in sf10
    assert "- SF10 (2026-12-02-sf10.json): ingest from an earlier run" in readme.read_text()


def write_trade_days(landing: Path, rows_per_day: dict[str, int]) -> None:
    """One CSV trade table's daily files with ``rows_per_day`` empty rows each."""
    spec = next(spec for spec in pipeline_bench.tables_of("trade") if spec.file_format == "csv")
    header = ",".join(column.name for column in spec.columns)
    for day, rows in rows_per_day.items():
        folder = landing / "trade" / day
        folder.mkdir(parents=True)
        body = "".join("," * (len(spec.columns) - 1) + "\n" for _ in range(rows))
        (folder / f"{spec.name}_{day.replace('-', '')}.csv").write_text(header + "\n" + body)


def test_the_raw_read_parses_every_row_of_every_landing_file_in_a_process_of_its_own(tmp_path: Path):
    write_trade_days(tmp_path / "landing", {"2026-06-01": 2, "2026-06-02": 3})
    seconds, rows = pipeline_bench.raw_read_in_subprocess(tmp_path / "landing", "1GB", tmp_path / "spill")
    assert rows == 5 and seconds > 0


def test_the_raw_read_parses_the_days_of_a_table_in_batches_and_counts_every_row(tmp_path, monkeypatch):
    write_trade_days(tmp_path / "landing", {"2026-06-01": 2, "2026-06-02": 3, "2026-06-03": 4})
    monkeypatch.setattr(pipeline_bench, "RAW_READ_DAYS_PER_QUERY", 2)  # days 1-2, then day 3
    parsed = []
    original = pipeline_bench._parse_into_temp_table
    monkeypatch.setattr(
        pipeline_bench, "_parse_into_temp_table",
        lambda con, spec, files: parsed.append(len(files)) or original(con, spec, files),
    )  # fmt: skip
    _, rows = pipeline_bench.raw_read_seconds(tmp_path / "landing", "1GB", tmp_path / "spill")
    assert (rows, parsed) == (9, [2, 1])


def test_the_report_lists_the_largest_nodes_of_the_full_and_the_daily_run():
    data = pipeline_result(10, 3000.0)
    data["full_run"]["largest_nodes"] = {"int_session_events": 753.0, "data tests": 355.0}
    data["daily_run"]["largest_nodes"] = {"data tests": 28.5, "tags_activity": 7.8}
    lines = report.largest_nodes_table(Path("2026-12-07-sf10.json"), data)
    assert lines[-3:] == [
        "| int_session_events | 753.0 | – |",
        "| data tests | 355.0 | 28.5 |",
        "| tags_activity | – | 7.8 |",
    ]
    assert report.largest_nodes_table(Path("old.json"), pipeline_result(1, 300.0)) == []


def test_the_report_shows_each_board_s_render_time_against_its_bar(tmp_path: Path):
    """bench/dashboard_bench.py's result: the latest per label, each board met or missed against 2 s."""
    results = tmp_path / "results"
    results.mkdir()
    for day, slow in (("2026-12-01", 9.0), ("2026-12-08", 2.5)):
        (results / f"{day}-dashboards-sf1.json").write_text(
            json.dumps(
                {
                    "date": day,
                    "boards": {
                        "rfm": {"panels": 3, "median_s": 0.61, "query_ms_median": 18},
                        "segments": {"panels": 4, "median_s": slow, "query_ms_median": 23},
                    },
                    "slowest_board_s": slow,
                    "target_s": 2.0,
                    "report_s": 9.9,
                    "report_kib": 793,
                }
            ),
            encoding="utf-8",
        )
    readme = tmp_path / "README.md"
    report.main(["--results", str(results), "--readme", str(readme)])
    text = readme.read_text(encoding="utf-8")
    assert "| rfm | 3 | 0.61 | 18 | render: met |" in text
    assert "| segments | 4 | 2.50 | 23 | render: missed |" in text  # the later file, not the 9 s one
    assert "9.00" not in text and "Slowest board: 2.50 s." in text
