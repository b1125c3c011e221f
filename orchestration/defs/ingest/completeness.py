"""The completeness ledger: per source system and day, was the delivery loaded, and if not, why not.

Statuses, computed each time from the facts already kept (nothing here is a second copy of the data):

- ``loaded``: every raw table of the source required that day has load-manifest rows for that arrival
  day (``raw/ingest/load_manifest/arrival_date=<day>/<source>__<table>__*.parquet``) and, while the day's
  landing folder is there, every file its control file lists has its own, or retention purged the day on
  purpose (``lib.privacy_records.purged_tracking_days``). A table is required from the first day it was
  loaded,
  and on any day whose control file lists a file of it (a table added later does not hold all history);
- ``failed``: the last load attempt of one of its tables failed (recorded by the raw assets in
  ``state/completeness.sqlite``, with the loader's message; a later successful load removes the record),
  or started and never finished (a crash: :data:`UNFINISHED`);
- ``waived``: an engineer waived the day (``cli waive``), whatever the status under it was, except a
  failure recorded after the waiver (a waiver answers what happened before it);
- ``delivered``: a folder ``landing/<source>/<day>/`` is there but not loaded yet;
- ``not_due``: the source was not due that day (``vars: fundcdp: deliveries: schedule:``) and delivered
  nothing;
- ``missing``: due, and nothing delivered.

Publishing as of day D needs every day up to D of every source to be ``loaded``, ``not_due`` or
``waived`` (:func:`held_days`). The ledger starts at the later of the partitions' first day and the first
day anything was delivered: a calendar set to begin before the company's first delivery (a fixed
``first_partition_date``, the fallback date) does not make the days before it missing.

The state file is SQLite (the standard library's, transactional, safe for the loader and the command
line writing it at once). Waivers are never deleted: a withdrawn waiver keeps who withdrew it and when.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.defs.ingest.loader import LoadError
from orchestration.defs.ingest.reconcile import control_file_path, read_control_file
from orchestration.lib.layout import SOURCES, DataLayout
from orchestration.lib.partition_calendar import delivered_days
from orchestration.lib.rules import local_time_zone_name, local_zone
from orchestration.lib.sources import tables_of

LOADED, NOT_DUE, WAIVED, FAILED, DELIVERED, MISSING = (
    "loaded",
    "not_due",
    "waived",
    "failed",
    "delivered",
    "missing",
)
STATUSES = (LOADED, NOT_DUE, WAIVED, FAILED, DELIVERED, MISSING)
# The statuses that let a day be published over; any other holds publishing back.
PUBLISHABLE = frozenset({LOADED, NOT_DUE, WAIVED})

_SCHEMA = """
create table if not exists load_failures (
    source text not null, table_name text not null, day text not null,
    message text not null, failed_at text not null, run_id text,
    primary key (source, table_name, day)
);
create table if not exists load_starts (
    source text not null, table_name text not null, day text not null,
    started_at text not null, run_id text,
    primary key (source, table_name, day)
);
create table if not exists waivers (
    source text not null, day text not null, reason text not null,
    waived_by text not null, waived_at text not null,
    withdrawn_by text, withdrawn_at text
);
create unique index if not exists one_active_waiver on waivers (source, day) where withdrawn_at is null;
"""


class WaiverError(ValueError):
    """A waiver command that names no known source, no valid day, or gives no reason."""


@dataclass(frozen=True)
class LedgerDay:
    """One source's status for one day; ``detail``: the failure message(s), or a waiver's reason."""

    source: str
    day: str
    status: str
    detail: str = ""

    def describe(self) -> str:
        """``crm 2026-06-30 failed (<message>)``."""
        return f"{self.source} {self.day} {self.status}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Waiver:
    """An engineer's waiver of one source's day."""

    source: str
    day: str
    reason: str
    waived_by: str
    waived_at: str
    withdrawn_by: str | None = None
    withdrawn_at: str | None = None


def state_file(layout: DataLayout) -> Path:
    """``<data dir>/state/completeness.sqlite``: the load failures and the waivers."""
    return layout.root / "state" / "completeness.sqlite"


@contextmanager
def _state(layout: DataLayout) -> Iterator[sqlite3.Connection]:
    path = state_file(layout)
    # Owner-only whatever the caller's umask: who waived what is the engineers' business.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
    # Autocommit mode, and one explicit transaction taking the write lock at once (BEGIN IMMEDIATE): a
    # check-then-write (an active waiver? then insert) cannot interleave with another writer's.
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as con:
        con.executescript(_SCHEMA)
        con.execute("begin immediate")
        try:
            yield con
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")


def _now() -> str:
    # Microseconds: a failure and a waiver within one second must still be ordered (which answers which).
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- load attempts (written by the raw assets) ------------------------------------------------------


# The message of a day whose load started and never finished (a crash, kill -9, retries running out).
UNFINISHED = "load did not finish (crashed?)"


def mark_loads_started(
    layout: DataLayout, source: str, table: str, days: Iterable[str], run_id: str | None = None
) -> None:
    """Before a raw table's load: mark each day to load "started, not finished", in one transaction.
    :func:`record_load_attempts` after the load clears the mark of each day that failed or finished; a
    crash leaves it, and the ledger shows the day ``failed`` with the message :data:`UNFINISHED`."""
    days = sorted(set(days))
    if not days:
        return
    at = _now()
    with _state(layout) as con:
        con.executemany(
            "insert or replace into load_starts values (?, ?, ?, ?, ?)",
            [(source, table, day, at, run_id) for day in days],
        )


def record_load_attempts(
    layout: DataLayout,
    source: str,
    table: str,
    failed: dict[str, str],
    loaded: Iterable[str],
    run_id: str | None = None,
) -> None:
    """After a raw table's load: remember each failed day with its message, forget the failures of the
    days that loaded (the last attempt is what counts), and clear both's "started" marks. One transaction.
    A day failing again with the same message keeps the time it first failed so: a waiver given since
    still answers it; a new message is a new failure."""
    loaded = sorted(set(loaded) - set(failed))
    if not failed and not state_file(layout).exists():
        return  # no failure ever recorded here: nothing to forget
    at = _now()
    with _state(layout) as con:
        con.executemany(
            "delete from load_failures where source = ? and table_name = ? and day = ?",
            [(source, table, day) for day in loaded],
        )
        con.executemany(
            "insert into load_failures values (?, ?, ?, ?, ?, ?) "
            "on conflict (source, table_name, day) do update set "
            "message = excluded.message, failed_at = excluded.failed_at, run_id = excluded.run_id "
            "where load_failures.message <> excluded.message",
            [(source, table, day, message, at, run_id) for day, message in sorted(failed.items())],
        )
        con.executemany(
            "delete from load_starts where source = ? and table_name = ? and day = ?",
            [(source, table, day) for day in [*loaded, *failed]],
        )


def _attempts(layout: DataLayout) -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """{(source, day): {table: (message, when)}}: the recorded failures, and the loads started and not
    finished (:data:`UNFINISHED`, when started), which supersede an older failure of the same table."""
    if not state_file(layout).exists():
        return {}
    with _state(layout) as con:
        failures = con.execute("select source, day, table_name, message, failed_at from load_failures")
        rows = failures.fetchall()
        starts = con.execute("select source, day, table_name, ?, started_at from load_starts", (UNFINISHED,))
        rows += starts.fetchall()
    attempts: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for source, day, table, message, when in rows:  # the started marks come last: they win
        attempts.setdefault((source, day), {})[table] = (message, when)
    return attempts


def load_failures(layout: DataLayout) -> dict[tuple[str, str], dict[str, str]]:
    """The recorded failures and unfinished loads: {(source, day): {table: message}}."""
    return {
        key: {table: message for table, (message, _) in tables.items()}
        for key, tables in _attempts(layout).items()
    }


# --- waivers (written by `cli waive`) ---------------------------------------------------------------


def validate_waiver(source: str, day: str, reason: str | None = None, check_reason: bool = True) -> str:
    """The canonical day; raises :class:`WaiverError` naming what is wrong with the source, day or reason."""
    if source not in SOURCES:
        raise WaiverError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
    try:
        canonical = date.fromisoformat(day).isoformat()
    except ValueError:
        canonical = None
    if canonical != day:
        raise WaiverError(f"{day!r} is not a day in YYYY-MM-DD form")
    if check_reason and not (reason or "").strip():
        raise WaiverError('a waiver needs a reason (--reason "..."): why may this day stay incomplete?')
    return canonical


MAX_WAIVED_DAYS = 3660  # one command waives at most ten years of one source


def waiver_days(source: str, day: str, to: str | None = None) -> list[str]:
    """The days one waive command names: ``day``, or every day of ``day .. to``; raises
    :class:`WaiverError` naming what is wrong (the reason is checked by :func:`waive`)."""
    first = validate_waiver(source, day, check_reason=False)
    if to is None:
        return [first]
    last = validate_waiver(source, to, check_reason=False)
    if last < first:
        raise WaiverError(f"--to {last} is before --day {first}")
    days = _days(first, last)
    if len(days) > MAX_WAIVED_DAYS:
        raise WaiverError(f"{len(days)} days in {first} .. {last}: at most {MAX_WAIVED_DAYS} per command")
    return days


def _today() -> date:
    """Today in the local time zone (the partitions' time zone, ``vars: fundcdp: time_zone``)."""
    return datetime.now(local_zone()).date()


def _refuse_future(days: list[str]) -> None:
    """Raise :class:`WaiverError` if a day is after today: a waiver answers what has happened."""
    today = _today().isoformat()
    future = [day for day in days if day > today]
    if future:
        span = future[0] if len(future) == 1 else f"{future[0]} .. {future[-1]}"
        raise WaiverError(
            f"{span} is after today ({today}, {local_time_zone_name()}): a waiver answers what has happened; "
            "waive a day once it is over"
        )


def _who() -> str:
    return os.environ.get("USER") or getpass.getuser()


def waive(
    layout: DataLayout,
    source: str,
    day: str,
    reason: str,
    who: str | None = None,
    allow_future: bool = False,
) -> tuple[Waiver, bool]:
    """Waive ``source``'s ``day``; returns the active waiver and whether it is new. Waiving a day already
    waived keeps the first waiver (idempotent); withdraw it first to give another reason. A day after
    today is refused unless ``allow_future`` (the demo's planted day, whose calendar is its own)."""
    day = validate_waiver(source, day, reason)
    if not allow_future:
        _refuse_future([day])
    with _state(layout) as con:
        current = _active(con, source, day)
        if current is not None:
            return current, False
        con.execute(
            "insert into waivers (source, day, reason, waived_by, waived_at) values (?, ?, ?, ?, ?)",
            (source, day, reason.strip(), who or _who(), _now()),
        )
        return _active(con, source, day), True


def waive_days(
    layout: DataLayout, source: str, days: list[str], reason: str, who: str | None = None
) -> list[tuple[Waiver, bool]]:
    """Waive each of ``days`` of ``source`` in one transaction (all or none); returns, per day, the active
    waiver and whether it is new (a day already waived keeps its first waiver, as with :func:`waive`).
    Days after today are refused (nothing waived)."""
    days = [validate_waiver(source, day, reason) for day in days]
    _refuse_future(days)
    who, at = who or _who(), _now()
    with _state(layout) as con:
        before = _active_days(con, source, days)
        con.executemany(
            "insert into waivers (source, day, reason, waived_by, waived_at) values (?, ?, ?, ?, ?)",
            [(source, day, reason.strip(), who, at) for day in sorted(set(days) - before.keys())],
        )
        after = _active_days(con, source, days)
    return [(after[day], day not in before) for day in days]


def withdraw_waivers(
    layout: DataLayout, source: str, days: list[str], who: str | None = None
) -> list[Waiver]:
    """Withdraw the active waivers among ``days`` of ``source`` in one transaction; returns them (days
    without an active waiver are left alone)."""
    days = [validate_waiver(source, day, check_reason=False) for day in days]
    with _state(layout) as con:
        active = _active_days(con, source, days)
        con.executemany(
            "update waivers set withdrawn_by = ?, withdrawn_at = ? "
            "where source = ? and day = ? and withdrawn_at is null",
            [(who or _who(), _now(), source, day) for day in sorted(active)],
        )
    return [active[day] for day in sorted(active)]


def _active_days(con: sqlite3.Connection, source: str, days: list[str]) -> dict[str, Waiver]:
    """The active waivers of ``source`` among ``days``, by day (one query over the days' span)."""
    if not days:
        return {}
    wanted = set(days)
    rows = con.execute(
        "select source, day, reason, waived_by, waived_at, withdrawn_by, withdrawn_at from waivers "
        "where source = ? and day between ? and ? and withdrawn_at is null",
        (source, min(days), max(days)),
    ).fetchall()
    return {row[1]: Waiver(*row) for row in rows if row[1] in wanted}


def withdraw_waiver(layout: DataLayout, source: str, day: str, who: str | None = None) -> Waiver:
    """Withdraw the active waiver of ``source``'s ``day`` (kept, marked withdrawn); raises
    :class:`WaiverError` when there is none."""
    day = validate_waiver(source, day, check_reason=False)
    with _state(layout) as con:
        current = _active(con, source, day)
        if current is None:
            raise WaiverError(f"no active waiver for {source} {day}: nothing withdrawn")
        con.execute(
            "update waivers set withdrawn_by = ?, withdrawn_at = ? "
            "where source = ? and day = ? and withdrawn_at is null",
            (who or _who(), _now(), source, day),
        )
    return current


def waivers(layout: DataLayout, include_withdrawn: bool = False) -> list[Waiver]:
    """The waivers, by source and day (only the active ones unless ``include_withdrawn``)."""
    if not state_file(layout).exists():
        return []
    with _state(layout) as con:
        rows = con.execute(
            "select source, day, reason, waived_by, waived_at, withdrawn_by, withdrawn_at from waivers "
            + ("" if include_withdrawn else "where withdrawn_at is null ")
            + "order by source, day, waived_at"
        ).fetchall()
    return [Waiver(*row) for row in rows]


def _active(con: sqlite3.Connection, source: str, day: str) -> Waiver | None:
    row = con.execute(
        "select source, day, reason, waived_by, waived_at, withdrawn_by, withdrawn_at from waivers "
        "where source = ? and day = ? and withdrawn_at is null",
        (source, day),
    ).fetchone()
    return Waiver(*row) if row else None


# --- the ledger -------------------------------------------------------------------------------------


def _manifest_files(layout: DataLayout) -> dict[str, dict[tuple[str, str], set[str]]]:
    """{arrival day: {(source, table): {file stem}}} from the manifest files' names (no file is read):
    ``<source>__<table>__<file stem>.parquet``, one per delivered file (land.py ``_meta_name``)."""
    found: dict[str, dict[tuple[str, str], set[str]]] = {}
    root = layout.raw / "ingest" / "load_manifest"
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if not folder.is_dir() or not folder.name.startswith("arrival_date="):
            continue
        day = folder.name.removeprefix("arrival_date=")
        for file in folder.glob("*__*__*.parquet"):
            source, table, stem = file.name.removesuffix(".parquet").split("__", 2)
            found.setdefault(day, {}).setdefault((source, table), set()).add(stem)
    return found


def _listed_files(layout: DataLayout, source: str, day: str) -> dict[tuple[str, str], list[str]]:
    """{(source, table): [file name]}: the files the day's control file lists, by the table that reads them
    (names only). Empty when the control file is not there or not readable: the load then failed on it,
    and that failure is what the ledger shows."""
    try:
        listed = read_control_file(control_file_path(layout, source, day))
    except LoadError:
        return {}
    specs = tables_of(source)
    by_table: dict[tuple[str, str], list[str]] = {}
    for name in sorted(listed):
        spec = next((spec for spec in specs if spec.matches_file(name, day)), None)
        if spec is not None:
            by_table.setdefault((source, spec.name), []).append(name)
    return by_table


def _first_manifest_days(manifests: dict[str, dict[tuple[str, str], set[str]]]) -> dict[tuple[str, str], str]:
    """{(source, table): the first arrival day with a manifest of the table}."""
    first: dict[tuple[str, str], str] = {}
    for day in sorted(manifests):
        for table in manifests[day]:
            first.setdefault(table, day)
    return first


def ledger_start(layout: DataLayout, first_partition_day: date | str) -> str | None:
    """The ledger's first day: the later of the partitions' first day and the first delivery day (None:
    nothing delivered yet)."""
    delivered = delivered_days(layout)
    if not delivered:
        return None
    return max(str(first_partition_day), delivered[0])


def build_ledger(
    layout: DataLayout,
    first_partition_day: date | str,
    as_of: date | str,
    schedule: DeliverySchedule,
    purged_days: Iterable[str] = (),
) -> list[LedgerDay]:
    """Every source's status for every day from :func:`ledger_start` to ``as_of``, by source then day.
    ``purged_days``: tracking days retention purged (they count as loaded)."""
    start = ledger_start(layout, first_partition_day)
    as_of = str(as_of)
    if start is None or start > as_of:
        return []
    manifests = _manifest_files(layout)
    failures = _attempts(layout)
    waived = {(w.source, w.day): w for w in waivers(layout)}
    purged = set(purged_days)
    landed = {source: set(layout.landing_days(source)) for source in SOURCES}
    days = _days(start, as_of)
    ledger = []
    # A table is required from the first day it was ever loaded (or a control file lists a file of it): a
    # table the company added later does not make every earlier day incomplete.
    first_loaded = _first_manifest_days(manifests)
    ledger = []
    for source in SOURCES:
        tables = [(source, spec.name) for spec in tables_of(source)]
        for day in days:
            required = {table for table in tables if first_loaded.get(table, "9999-12-31") <= day}
            ledger.append(
                _status(layout, source, day, required, manifests, failures, waived, purged, landed, schedule)
            )
    return ledger


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def _status(layout, source, day, tables, manifests, failures, waived, purged, landed, schedule) -> LedgerDay:
    if source == "tracking" and day in purged:
        return LedgerDay(source, day, LOADED, "purged by retention")
    waiver = waived.get((source, day))
    failed = failures.get((source, day))
    if failed:  # the last attempt failed: a manifest of an earlier attempt does not make it loaded
        detail = _failure_detail({table: message for table, (message, _) in failed.items()})
        last_failed_at = max(when for _, when in failed.values())
        if waiver is None:
            return LedgerDay(source, day, FAILED, detail)
        if last_failed_at <= waiver.waived_at:  # a waiver answers what happened before it only
            return LedgerDay(source, day, WAIVED, waiver.reason)
        return LedgerDay(
            source,
            day,
            FAILED,
            f"{detail}; the waiver ({waiver.reason}; {waiver.waived_by}, {waiver.waived_at[:19]}) predates "
            "this failure",
        )
    loaded_files = manifests.get(day, {})
    # While the delivery is there, every file its control file lists must have its manifest row.
    listed = _listed_files(layout, source, day) if day in landed[source] else {}
    unloaded = [
        name
        for table, names in listed.items()
        for name in names
        if name.split(".", 1)[0] not in loaded_files.get(table, set())  # land.py _meta_name's stem
    ]
    required = tables | listed.keys()
    if required and required <= loaded_files.keys() and not unloaded:
        return LedgerDay(source, day, LOADED)
    if waiver is not None:
        return LedgerDay(source, day, WAIVED, waiver.reason)
    if day in landed[source]:
        # named when part of the day was loaded (a delivery not loaded at all is just delivered)
        detail = f"listed but not loaded: {', '.join(unloaded)}" if unloaded and loaded_files else ""
        return LedgerDay(source, day, DELIVERED, detail)
    if not schedule.is_due(source, day):
        return LedgerDay(source, day, NOT_DUE)
    return LedgerDay(source, day, MISSING)


def _failure_detail(failed: dict[str, str]) -> str:
    """``bank_cards, customers: <message>; nav: <other message>``: tables with one message named once."""
    by_message: dict[str, list[str]] = {}
    for table, message in sorted(failed.items()):
        by_message.setdefault(message, []).append(table)
    return "; ".join(f"{', '.join(tables)}: {message}" for message, tables in by_message.items())


def held_days(ledger: list[LedgerDay]) -> list[LedgerDay]:
    """The days that hold publishing back: neither loaded, not due nor waived."""
    return [entry for entry in ledger if entry.status not in PUBLISHABLE]


@dataclass(frozen=True)
class LedgerRun:
    """Consecutive days of one source with one status and one detail: shown as one line."""

    source: str
    first: str
    last: str
    status: str
    detail: str = ""
    days: int = 1

    def describe(self) -> str:
        """``crm 2024-01-01 .. 2024-06-30 waived (CRM went live 2024-07-01)``; one day as
        :meth:`LedgerDay.describe`."""
        span = self.first if self.first == self.last else f"{self.first} .. {self.last}"
        return f"{self.source} {span} {self.status}" + (f" ({self.detail})" if self.detail else "")


def ledger_runs(entries: list[LedgerDay]) -> list[LedgerRun]:
    """``entries`` (in ledger order) with each run of consecutive days of one source, status and detail
    collapsed into one :class:`LedgerRun`: 180 waived days with one reason are one line, not 180."""
    runs: list[LedgerRun] = []
    for entry in entries:
        last = runs[-1] if runs else None
        if (
            last is not None
            and (last.source, last.status, last.detail) == (entry.source, entry.status, entry.detail)
            and date.fromisoformat(last.last) + timedelta(days=1) == date.fromisoformat(entry.day)
        ):
            runs[-1] = LedgerRun(last.source, last.first, entry.day, last.status, last.detail, last.days + 1)
        else:
            runs.append(LedgerRun(entry.source, entry.day, entry.day, entry.status, entry.detail))
    return runs


def _capped(lines: list[str], limit: int) -> list[str]:
    return lines if len(lines) <= limit else [*lines[:limit], f"and {len(lines) - limit} more"]


# At most this many runs of held days are named in metadata, alerts and failures (the count says the rest).
HELD_LIST_LIMIT = 50


def held_list(held: list[LedgerDay], limit: int = HELD_LIST_LIMIT) -> list[str]:
    """The held days as runs (:func:`ledger_runs`), at most ``limit`` named, then ``and N more``."""
    return _capped([run.describe() for run in ledger_runs(held)], limit)


def held_text(held: list[LedgerDay], limit: int = 10) -> str:
    """``held: crm 2026-06-30 failed (<message>), trade 2026-07-01 .. 2026-07-03 missing`` (runs of days
    collapsed, at most ``limit`` runs named)."""
    runs = [run.describe() for run in ledger_runs(held)]
    named = ", ".join(runs[:limit])
    more = f" and {len(runs) - limit} more" if len(runs) > limit else ""
    return f"held: {named}{more}"


def held_key(held: list[LedgerDay]) -> str:
    """One key per held set (which days, which statuses): its alert goes out once."""
    text = "\n".join(f"{e.source}|{e.day}|{e.status}" for e in held)
    return "publish_held:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def ledger_counts(ledger: list[LedgerDay]) -> dict[str, dict[str, int]]:
    """{source: {status: days}} (statuses with no day left out)."""
    counts: dict[str, dict[str, int]] = {}
    for entry in ledger:
        per_source = counts.setdefault(entry.source, {})
        per_source[entry.status] = per_source.get(entry.status, 0) + 1
    return counts


# At most this many runs of notable days per source in the summary and the UI's table.
DISPLAY_RUNS_LIMIT = 50


def ledger_lines(ledger: list[LedgerDay]) -> list[str]:
    """Compact text: per source the days loaded / not due / waived, then the other days (and the waived
    ones) as runs of consecutive days with one status and detail (at most :data:`DISPLAY_RUNS_LIMIT`)."""
    if not ledger:
        return ["(nothing delivered yet)"]
    lines = []
    for source, counts in ledger_counts(ledger).items():
        days = [e for e in ledger if e.source == source]
        lines.append(
            f"{source:<9}{days[0].day} .. {days[-1].day}: {counts.get(LOADED, 0)} loaded, "
            f"{counts.get(NOT_DUE, 0)} not due, {counts.get(WAIVED, 0)} waived"
            + "".join(f", {counts[s]} {s}" for s in (FAILED, DELIVERED, MISSING) if counts.get(s))
        )
        notable = [e for e in days if e.status in (WAIVED, FAILED, DELIVERED, MISSING)]
        runs = [run.describe() for run in ledger_runs(notable)]
        lines += [f"  {line}" for line in _capped(runs, DISPLAY_RUNS_LIMIT)]
    return lines


def ledger_markdown(ledger: list[LedgerDay]) -> str:
    """The ledger for the Dagster UI: counts per source, then a row per run of days not simply loaded / not
    due (consecutive days with one status and detail; at most :data:`DISPLAY_RUNS_LIMIT` per source)."""
    if not ledger:
        return "Nothing delivered yet."
    counts = ledger_counts(ledger)
    out = ["| source | " + " | ".join(STATUSES) + " |", "|---" * (len(STATUSES) + 1) + "|"]
    for source, per_status in counts.items():
        out.append(f"| {source} | " + " | ".join(str(per_status.get(s, 0)) for s in STATUSES) + " |")
    notable = [e for e in ledger if e.status not in (LOADED, NOT_DUE)]
    if notable:
        out += ["", "| source | day | status | detail |", "|---|---|---|---|"]
        for source in counts:
            runs = ledger_runs([e for e in notable if e.source == source])
            for run in runs[:DISPLAY_RUNS_LIMIT]:
                span = run.first if run.first == run.last else f"{run.first} .. {run.last}"
                detail = run.detail.replace("|", "\\|").replace("\n", " ")
                out.append(f"| {run.source} | {span} | {run.status} | {detail} |")
            if len(runs) > DISPLAY_RUNS_LIMIT:
                out.append(f"| {source} | and {len(runs) - DISPLAY_RUNS_LIMIT} more | | |")
    return "\n".join(out)


def waive_missing_days(
    layout: DataLayout,
    first_partition_day: date | str,
    as_of: date | str,
    schedule: DeliverySchedule,
    reason: str,
    who: str | None = None,
) -> list[Waiver]:
    """Waive every day of the ledger up to ``as_of`` on which a due source delivered nothing (``missing``),
    e.g. the holidays of a company's history before it is imported. Returns the new waivers. One
    transaction per source (a failure leaves none of that source's days waived)."""
    ledger = build_ledger(layout, first_partition_day, as_of, schedule)
    waived = []
    for source in SOURCES:
        days = [e.day for e in ledger if e.source == source and e.status == MISSING]
        if days:
            waived += waive_days(layout, source, days, reason, who)
    return [waiver for waiver, new in waived if new]


# --- the demo's planted incomplete day --------------------------------------------------------------

DEMO_WAIVER_REASON = "planted by the demo generator: {detail}"


def planted_demo_days(layout: DataLayout) -> list[tuple[str, str, str]]:
    """(source, day, what) of the deliveries the demo generator left incomplete on purpose, from its truth
    (``demo_truth/defects.csv``, kind ``incomplete_day``); none without a truth."""
    truth = layout.demo_truth / "defects.csv"
    if not truth.exists():
        return []
    with open(truth, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("kind") == "incomplete_day"]
    planted = []
    for row in rows:
        source, day, name = row["file"].split("/", 2)
        planted.append((source, day, f"{name} {row.get('detail') or 'missing'}".strip()))
    return planted


def waive_planted_demo_days(layout: DataLayout) -> list[Waiver]:
    """Waive each day the demo generator left incomplete on purpose, unless it was waived before (a waiver
    an engineer withdrew stays withdrawn); returns the new waivers."""
    before = {(w.source, w.day) for w in waivers(layout, include_withdrawn=True)}
    return [
        waive(
            layout, source, day, DEMO_WAIVER_REASON.format(detail=what), "demo generator", allow_future=True
        )[0]
        for source, day, what in planted_demo_days(layout)
        if (source, day) not in before
    ]
