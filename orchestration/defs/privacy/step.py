"""Honour deletion requests and apply retention: the privacy step that runs before each day's loads.

Deletion (what is erased and how): :mod:`orchestration.defs.privacy.erasure`. Retention (``vars: fundcdp:
retention:``): raw tracking events older than ``tracking_event_days`` and quarantine rows older than
``quarantine_days`` (by arrival day, counted back from the run's as-of date) are purged from ``raw/``,
``landing/`` and ``private.duckdb``. The identity sightings those events carried (a login, seen with a
phone, a customer number, a WeChat id) are first archived in ``raw/archive/identity_links/`` — hashes
and ids with the first and last time seen, no behaviour — and the identity graph keeps reading them, so
nobody's identifiers or person id change because old events are gone.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.defs.ingest.land import ingest_limits, land_table_day
from orchestration.defs.ingest.loader import LoadError
from orchestration.defs.privacy import erasure, erasure_landing, pseudonyms
from orchestration.lib.duckdb_files import compact_database
from orchestration.lib.layout import DataLayout
from orchestration.lib.privacy_records import (
    ARCHIVE_SCHEMA,
    RETENTION_LOG_SCHEMA,
    archive_dir,
    ensure_archive,
    write_records,
)
from orchestration.lib.relations import relation
from orchestration.lib.rules import JunkRules, local_zone
from orchestration.lib.sources import TABLES_BY_KEY
from orchestration.lib.sql import quote_identifier
from orchestration.lib.tombstones import add_tombstones, load_tombstones, normalise, request_hash


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(local_zone())).replace(tzinfo=None, microsecond=0)


# ------------------------------------------------------------------------------------------ deletion


def honour(
    layout: DataLayout,
    key: bytes,
    request: erasure.ErasureRequest,
    rules: dict[str, Any],
    now: datetime | None = None,
) -> dict:
    """Erase the person a request names (see :mod:`orchestration.defs.privacy.erasure`); returns its log
    row."""
    now = _now(now)
    scope = erasure.resolve(layout, key, request)
    if scope.held_reason:  # a reassigned number names several persons: erase nobody by guesswork
        return erasure.hold_request(layout, request, scope, now)
    identifiers = erasure.clear_identifiers(layout, scope)
    # The named identifier is tombstoned even when no row holds it yet, unless it is someone else's too.
    named = normalise(request.identifier_type, request.identifier_value)
    if request_hash(key, request.identifier_type, request.identifier_value) in scope.hashes.get(
        request.identifier_type, ()
    ):
        identifiers.add((request.identifier_type, named))
    written = add_tombstones(layout, request.request_id, identifiers, now)
    tombstones = load_tombstones(layout)
    junk = JunkRules.from_rules(rules)
    removed: Counter[str] = Counter()
    rewritten = 0
    not_reloaded: set[tuple[str, str, str]] = set()
    not_reloaded_lines = 0
    for spec_key, days in sorted(erasure.affected_files(layout, scope).items()):
        spec = TABLES_BY_KEY[spec_key]
        for day, names in sorted(days.items()):
            present = frozenset(n for n in names if (layout.landing_day(spec.source, day) / n).exists())
            missing = set(names) - present
            if present:
                try:
                    outcome = land_table_day(
                        layout,
                        spec,
                        day,
                        key,
                        junk,
                        **ingest_limits(rules),
                        tombstones=tombstones,
                        reload_files=present,
                        now=now,
                    )
                except LoadError:
                    # The day's delivery no longer loads as a whole (a file missing since, a stray file
                    # name): erase in raw/, and cut the person's lines from its landing files all the same.
                    not_reloaded.add((spec.source, spec.name, day))
                    files, lines = erasure_landing.redact_files(
                        layout, spec, day, present, key, junk, tombstones
                    )
                    rewritten += files
                    not_reloaded_lines += lines
                    missing |= present
                else:
                    for file in outcome.files:
                        if file.file_name in present and file.rows_erased:
                            removed[f"{spec.source}.{spec.name}"] += file.rows_erased
                            rewritten += 1
            for name in sorted(missing):
                removed[f"{spec.source}.{spec.name}"] += erasure.purge_raw_without_landing(
                    layout, scope, spec_key, day, name
                )
    # Files never loaded (an incomplete day, a day not run yet, a re-sent copy) hold their lines too.
    unloaded_files, unloaded_lines = erasure_landing.redact_unloaded_files(layout, key, junk, tombstones)
    rewritten += unloaded_files
    removed["archive.identity_links"] += erasure.purge_exports(archive_dir(layout), scope)
    quarantined = erasure.purge_quarantined_lines(layout, {value for _, value in identifiers})
    persons_found = len(scope.person_ids)
    # Their published ids (what analytics.duckdb holds) leave private.duckdb and are purged like person ids;
    # so do those of their earlier ids, merged into them (identity_changes).
    merged = pseudonyms.merged_into(layout.warehouse_db, scope.person_ids)
    scope.person_ids |= pseudonyms.forget(layout.private_db, scope.person_ids | merged)
    derived = {
        name: erasure.purge_database(path, scope)
        for name, path in (
            ("warehouse", layout.warehouse_db),
            ("analytics", layout.analytics_db),
            ("segments", layout.segments_db),
            ("quality", layout.quality_db),
        )
    }
    exports = erasure.purge_exports(layout.outbox, scope)
    if layout.private_db.exists():
        compact_database(layout.private_db, 0o600)
    row = {
        "request_id": request.request_id,
        "identifier_type": request.identifier_type,
        "requested_at": request.requested_at,
        "honoured_at": now,
        "persons_found": persons_found,
        "tombstones_written": written,
        "landing_files_rewritten": rewritten,
        "raw_rows_removed": sum(removed.values()),
        "raw_rows_removed_by_table": erasure.json_counts(removed),
        "quarantined_lines_removed": quarantined,
        "derived_rows_removed": sum(derived.values()),
        "derived_rows_removed_by_store": erasure.json_counts(derived),
        "export_rows_removed": exports,
        "unloaded_lines_removed": unloaded_lines,
        "days_not_reloaded": len(not_reloaded),
        "not_reloaded_lines_removed": not_reloaded_lines,
        "status": erasure.HONOURED,
    }
    erasure.write_log(layout, row)
    return row


def honour_pending_requests(
    layout: DataLayout, key: bytes, rules: dict[str, Any], now: datetime | None = None
) -> list[dict]:
    """Honour every request file in ``landing/deletion_requests/``; each file is deleted once all its
    requests are honoured (or held). Requests already honoured are not honoured twice; a held request's
    id may be filed again (with another identifier) and is honoured then."""
    done = {row["request_id"] for row in erasure.read_log(layout) if row.get("status") != erasure.HELD}
    by_file: dict[Path | None, list[erasure.ErasureRequest]] = defaultdict(list)
    for request in erasure.read_requests(layout):
        by_file[request.path].append(request)
    rows = []
    for requests in by_file.values():
        for request in requests:
            if request.request_id not in done:
                rows.append(honour(layout, key, request, rules, now))
                done.add(request.request_id)
        erasure.remove_request_file(requests[0])
    return rows


# ----------------------------------------------------------------------------------------- retention


@dataclass(frozen=True)
class RetentionRules:
    tracking_event_days: int
    quarantine_days: int

    @classmethod
    def from_rules(cls, rules: dict[str, Any]) -> RetentionRules:
        retention = rules["retention"]
        return cls(int(retention["tracking_event_days"]), int(retention["quarantine_days"]))


def _partition_days(folder: Path) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in folder.glob("arrival_date=*") if p.is_dir())


def _manifest_files(
    layout: DataLayout, days: list[str], source: str | None = None
) -> list[tuple[str, str, str]]:
    """(source, table, file) of the manifest rows of the given arrival days."""
    folder = layout.raw / "ingest" / "load_manifest"
    files = []
    for day in days:
        for path in sorted((folder / f"arrival_date={day}").glob("*.parquet")):
            for row in duckdb.sql(
                "select source, table_name, file_name from read_parquet(?)", params=[str(path)]
            ).fetchall():
                if source is None or row[0] == source:
                    files.append(row)
    return files


def _delete_private(
    layout: DataLayout, tracking_files: list[str], quarantine_files: list[tuple[str, str, str]]
) -> int:
    if not layout.private_db.exists() or not (tracking_files or quarantine_files):
        return 0
    con = duckdb.connect(str(layout.private_db))
    deleted = 0
    try:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        if tracking_files and "pii_tracking__events" in tables:
            (count,) = con.execute(
                "select count(*) from pii_tracking__events where _source_file in (select unnest(?))",
                [tracking_files],
            ).fetchone()
            con.execute(
                "delete from pii_tracking__events where _source_file in (select unnest(?))", [tracking_files]
            )
            deleted += count
        if "quarantined_lines" in tables:
            keys = [f"{s}|{t}|{f}" for s, t, f in quarantine_files] + [
                f"tracking|events|{f}" for f in tracking_files
            ]
            (count,) = con.execute(
                "select count(*) from quarantined_lines "
                "where source || '|' || table_name || '|' || file_name in (select unnest(?))",
                [keys],
            ).fetchone()
            con.execute(
                "delete from quarantined_lines where source || '|' || table_name || '|' || file_name "
                "in (select unnest(?))",
                [keys],
            )
            deleted += count
    finally:
        con.close()
    return deleted


def apply_retention(
    layout: DataLayout, as_of: date, retention: RetentionRules, now: datetime | None = None
) -> dict | None:
    """Purge what is past its retention as of ``as_of``; returns the retention log row (None: nothing
    to purge). Tracking events are purged only with a built warehouse, whose valid events give the
    identity links to archive first."""
    events_dir = layout.raw_table("tracking", "events")
    event_cutoff = (as_of - timedelta(days=retention.tracking_event_days)).isoformat()
    quarantine_cutoff = (as_of - timedelta(days=retention.quarantine_days)).isoformat()
    event_days = [d for d in _partition_days(events_dir) if d <= event_cutoff]
    landing_days = [d for d in layout.landing_days("tracking") if d <= event_cutoff]
    quarantine_dir = layout.raw / "ingest" / "quarantine"
    quarantine_days = [d for d in _partition_days(quarantine_dir) if d <= quarantine_cutoff]
    if not (event_days or landing_days or quarantine_days):
        return None
    archived = 0
    event_rows = 0
    if event_days:
        if not layout.warehouse_db.exists():
            raise LoadError(
                f"retention: tracking events of {event_days[0]} .. {event_days[-1]} are due for purging, but "
                "there is no built warehouse to archive their identity links from; build it first"
            )
        archived = _archive_links(layout, event_days)
        event_files = [
            str(p) for d in event_days for p in (events_dir / f"arrival_date={d}").glob("*.parquet")
        ]
        event_rows = _count_rows(event_files)
    tracking_files = [
        f for _, _, f in _manifest_files(layout, sorted(set(event_days) | set(landing_days)), "tracking")
    ]
    quarantine_files = _manifest_files(layout, quarantine_days)
    quarantine_rows = _count_rows(
        [
            str(p)
            for day in quarantine_days
            for p in (quarantine_dir / f"arrival_date={day}").glob("*.parquet")
        ]
    )
    private_rows = _delete_private(layout, tracking_files, quarantine_files)
    for day in event_days:
        shutil.rmtree(events_dir / f"arrival_date={day}")
    if event_days:
        # the incremental event tables cannot drop purged events the way a full rebuild does
        warehouse = duckdb.connect(str(layout.warehouse_db))
        try:
            erasure.require_full_rebuild(warehouse)
        finally:
            warehouse.close()
    for day in landing_days:
        shutil.rmtree(layout.landing_day("tracking", day))
    for day in quarantine_days:
        shutil.rmtree(quarantine_dir / f"arrival_date={day}")
    if private_rows:
        compact_database(layout.private_db, 0o600)
    row = {
        "as_of_date": as_of,
        "applied_at": _now(now),
        "tracking_event_days": retention.tracking_event_days,
        "quarantine_days": retention.quarantine_days,
        "event_days_purged": ",".join(event_days),
        "event_rows_purged": event_rows,
        "identity_links_archived": archived,
        "landing_days_purged": len(landing_days),
        "quarantine_days_purged": ",".join(quarantine_days),
        "quarantine_rows_purged": quarantine_rows,
        "private_rows_purged": private_rows,
    }
    folder = layout.raw / "ingest" / "retention_log"
    folder.mkdir(parents=True, exist_ok=True)
    write_records(
        folder / f"{as_of.isoformat()}.parquet", pa.Table.from_pylist([row], schema=RETENTION_LOG_SCHEMA)
    )
    return row


def _count_rows(parquet_files: list[str]) -> int:
    if not parquet_files:
        return 0
    con = duckdb.connect()
    try:
        return con.execute("select count(*) from read_parquet(?)", [parquet_files]).fetchone()[0]
    finally:
        con.close()


def _archive_links(layout: DataLayout, days: list[str]) -> int:
    """Copy the identity links of the valid events of ``days`` into the archive; returns rows archived."""
    ensure_archive(layout)
    columns = ", ".join(quote_identifier(name) for name in ARCHIVE_SCHEMA.names)
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    try:
        listed = [date.fromisoformat(day).isoformat() for day in days]
        # Every logged-in valid event is a sighting of its login (and of what it carries): keep the first
        # and the last of each login / event / carried-identifiers group, so first and last seen stay exact.
        group = "login_id, event_name, customer_no, phone_hash, wx_openid_hash, wx_unionid_hash"
        links = con.sql(
            f"""
            select {columns} from {relation("int_events_valid")}
            where list_contains(?, cast(arrival_date as varchar)) and login_id is not null
            qualify row_number() over (partition by {group} order by event_at, event_id) = 1
                or row_number() over (partition by {group} order by event_at desc, event_id desc) = 1
            order by arrival_date, event_id
            """,
            params=[listed],
        ).to_arrow_table()
        links = links.cast(ARCHIVE_SCHEMA)
    finally:
        con.close()
    if links.num_rows:
        write_records(archive_dir(layout) / f"purged_{days[0]}_{days[-1]}.parquet", links, zstd=True)
    return links.num_rows
