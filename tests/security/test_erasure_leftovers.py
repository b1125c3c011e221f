"""Deletion leaves nothing: after one person's erasure (the shared ``erased`` dataset of
tests/erasure_dataset.py) a scan of the WHOLE data directory — DuckDB files through SQL over every text
column and by their bytes, Parquet decoded, gzip decompressed, every other file by bytes (Dagster's sqlite
storage and logs included), nothing skipped — finds none of the person's values, after the same scan found
them before, including where no raw row pointed at them: a quarantined malformed tracking line and a CRM
delivery that never loaded. And a request id that is a path is refused before anything is written."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.privacy import erasure
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from tests.erasure_dataset import MALFORMED_EVENT_ID, NEVER_LOADED_DAY, query
from tests.privacy_scan import files_holding

pytestmark = pytest.mark.integration


def needles(erased: dict) -> list[str]:
    values = erased["values"]
    return sorted(values["clear"] | values["hashes"] | values["person_id"])


def test_the_scan_finds_the_person_where_no_raw_row_points_before_the_erasure(erased):
    before = set(erased["holding_before"])
    day, name = erased["malformed"]
    never_loaded = erased["never_loaded"].relative_to(erased["layout"].root).as_posix()
    assert f"landing/tracking/{day}/{name}" in before
    assert never_loaded == f"landing/crm/{NEVER_LOADED_DAY}/customers_{NEVER_LOADED_DAY.replace('-', '')}.csv"
    assert never_loaded in before
    assert "private.duckdb:main.quarantined_lines" in before
    # The scan is not empty-handed elsewhere either: the loaded stores held them too.
    assert {
        "private.duckdb:main.pii_crm__customers",
        "warehouse.duckdb:main_marts.person_identifiers",
    } <= before
    # In landing/: exactly the files a plain text search finds their clear values in.
    assert sorted(n for n in before if n.startswith("landing/")) == erased["landing_before"]
    assert {f"landing/tracking/{day}/{name}", never_loaded} <= set(erased["landing_before"])


def test_afterwards_the_whole_data_directory_holds_none_of_their_values(erased):
    layout: DataLayout = erased["layout"]
    found = needles(erased)
    values = erased["values"]
    # Their clear values: phone, ID number, e-mail, customer numbers, login ids, fund accounts, cards ...
    clear = ("phone", "customer_no", "login_id", "fund_account_id", "card_number")
    assert len(values["clear"]) == 2 + sum(len(values[kind]) for kind in clear)
    # ... their hashes (identity graph, cards, e-mail), each also under the rotated key when it is keyed ...
    base = values["identity_hashes"] | values["card_hashes"] | values["email_hash"]
    assert values["hashes"] == base | {erased["hashes"][h] for h in base if h in erased["hashes"]}
    # ... and their person ids (warehouse, published, re-derived by the rotation): all distinct.
    assert len(found) == len(values["clear"]) + len(values["hashes"]) + len(values["person_id"])
    assert not (layout.root / "demo_truth").exists()  # the demo's answer key lives outside
    assert files_holding(layout.root, found) == []


def test_their_quarantined_line_is_cut_from_landing_and_the_private_store_and_stays_out(erased):
    layout: DataLayout = erased["layout"]
    day, name = erased["malformed"]
    lines = gzip.decompress((layout.landing_day("tracking", day) / name).read_bytes()).decode().splitlines()
    assert not [line for line in lines if MALFORMED_EVENT_ID in line]
    control = (layout.landing_day("tracking", day) / f"_control_{day.replace('-', '')}.csv").read_text()
    assert f"{name},{len(lines)}," in control.splitlines()
    assert query(
        layout.private_db,
        "select count(*) from quarantined_lines where contains(line_text, ?)",
        [MALFORMED_EVENT_ID],
    ) == [(0,)]
    # Its manifest: rewritten, and every line read is loaded or quarantined.
    [(status, read, loaded, quarantined)] = duckdb.execute(
        "select status, lines_read, rows_loaded, rows_quarantined from read_parquet(?, union_by_name = true) "
        "where file_name = ?",
        [str(layout.raw / "ingest" / "load_manifest" / f"arrival_date={day}" / "*.parquet"), name],
    ).fetchall()
    assert (status, read, loaded + quarantined, quarantined) == ("redacted", len(lines), len(lines), 0)


def test_their_row_in_a_delivery_never_loaded_is_cut_and_the_other_row_kept(erased):
    path: Path = erased["never_loaded"]
    assert path.read_text(encoding="utf-8-sig").splitlines() == [erased["header"], erased["other_line"]]
    control = (path.parent / f"_control_{NEVER_LOADED_DAY.replace('-', '')}.csv").read_text().splitlines()
    assert f"{path.name},1," in control
    [log] = erasure.read_log(erased["layout"])
    assert log["unloaded_lines_removed"] == 1
    assert log["quarantined_lines_removed"] == 0  # cut with its file's reload, none left over to purge


def test_a_request_id_that_is_a_path_is_refused_and_nothing_is_written(tmp_path):
    probe = f"fundcdp-probe-{uuid.uuid4().hex}"
    outside = Path("/tmp") / f"{probe}.csv"
    data_dir = tmp_path / "data"
    phone = "13987654321"
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "erase", "--phone", phone,
         "--request-id", f"../../../../tmp/{probe}"],
        cwd=PROJECT_ROOT, env={**os.environ, "FUNDCDP_DATA_DIR": str(data_dir)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--request-id refused, nothing filed: a request id is 1 to 64 letters" in result.stderr
    assert phone not in result.stdout + result.stderr
    assert not outside.exists()
    assert not data_dir.exists() and list(tmp_path.iterdir()) == [], json.dumps(
        [str(p) for p in tmp_path.rglob("*")]
    )
