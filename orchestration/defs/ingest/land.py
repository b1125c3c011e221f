"""Land one table's delivery for one arrival day into ``raw/`` (Parquet) and ``private.duckdb``.

First the day's delivery is reconciled with its control file by name
(:func:`orchestration.defs.ingest.reconcile.reconcile_delivery`, which the delivery sensor calls too): every
listed file present and read by a table, no file of another day, a file the control file does not list
accepted only as a re-send of content already loaded (recognised by content hash, recorded as
``duplicate``, not loaded); otherwise the load fails naming each file and why. Then per file, in order:
unchanged files are skipped, the rest are parsed
(:mod:`orchestration.defs.ingest.loader`), reconciled against the control file (row count, amount total)
and only then written. Writes are idempotent per file: a file's Parquet, its quarantine rows, its
manifest row and its private rows are replaced together, so loading the same delivery twice leaves
``raw/`` byte-identical.

Raw layout (``arrival_date`` is a hive partition column):

- ``raw/<source>/<table>/arrival_date=<D>/<file stem>.parquet`` — typed rows, personal data hashed;
- ``raw/ingest/load_manifest/arrival_date=<D>/<source>__<table>__<file stem>.parquet`` — one row a file;
- ``raw/ingest/quarantine/arrival_date=<D>/<source>__<table>__<file stem>.parquet`` — rejected lines
  (reason only; the line itself goes to ``private.duckdb``).

A file in a day's folder whose name does not fit its table's strict pattern
(:attr:`TableSpec.file_pattern`: ASCII letters, digits and ``_`` only) is not loaded: the load of the
table it claims (by its name's start; every table of the source if it claims none) fails naming it and
the pattern, before anything is written. Hidden files (``.name``: copies in progress) are left alone.
Free-text values are redacted by the parser (:mod:`orchestration.lib.free_text`); the manifest counts
the replacements per file (``free_text_redactions``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestration.defs.ingest.loader import (
    FileContent,
    LoadError,
    ParsedFile,
    parse_csv_files,
    parse_file,
    read_file,
)
from orchestration.defs.ingest.manifest import WRITTEN_STATUSES as WRITTEN_STATUSES  # re-exported
from orchestration.defs.ingest.manifest import ManifestHistory, previous_manifest
from orchestration.defs.ingest.reconcile import (
    ControlEntry,
    control_file_path,
    read_control_file,
    reconcile_delivery,
)
from orchestration.defs.ingest.reconcile import refused_file_message as refused_file_message  # re-exported
from orchestration.defs.ingest.reconcile import refused_file_names as refused_file_names  # re-exported
from orchestration.lib.failpoints import crash_if_armed
from orchestration.lib.layout import DataLayout
from orchestration.lib.personal_data import protect_table
from orchestration.lib.rules import JunkRules, local_zone
from orchestration.lib.sources import TableSpec
from orchestration.lib.sql import quote_identifier
from orchestration.lib.tombstones import (
    Tombstones,
    erased_quarantine_lines,
    erased_rows_mask,
    redact_landing_file,
)

MANIFEST_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("table_name", pa.string()),
        ("file_name", pa.string()),
        ("file_size_bytes", pa.int64()),
        ("content_sha256", pa.string()),
        ("lines_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("amount_loaded", pa.decimal128(20, 2)),
        ("status", pa.string()),
        ("duplicate_of", pa.string()),
        ("replaced_sha256", pa.string()),
        ("ignored_columns", pa.string()),
        ("loaded_at", pa.timestamp("us")),
        # Phones, ID numbers, e-mails, card numbers replaced by placeholders in free-text columns (null in
        # manifests written before the scanner existed; readers use union_by_name).
        ("free_text_redactions", pa.int64()),
        # BOMs and zero-width characters removed from the file's fields and header (null in manifests
        # written before the loader stripped them).
        ("invisible_characters_stripped", pa.int64()),
    ]
)


@dataclass
class FileOutcome:
    """What happened to one delivered file."""

    file_name: str
    status: str  # loaded | corrected | redacted | unchanged | duplicate
    lines_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    duplicate_of: str | None = None
    rows_erased: int = 0  # rows of erased persons dropped (and cut from the landing file) before loading
    free_text_redactions: dict[str, int] = field(default_factory=dict)  # by kind: phone, email, ...
    invisible_characters_stripped: int = 0  # BOMs and zero-width characters removed


@dataclass
class DayOutcome:
    """What happened to one table's delivery of one day."""

    source: str
    table: str
    day: str
    files: list[FileOutcome] = field(default_factory=list)
    # The source was not due that day (vars fundcdp.deliveries.schedule) and delivered nothing: no files.
    not_due: bool = False

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files if f.status in WRITTEN_STATUSES)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files if f.status in WRITTEN_STATUSES)

    @property
    def rows_erased(self) -> int:
        return sum(f.rows_erased for f in self.files)

    @property
    def free_text_redactions(self) -> dict[str, int]:
        """Values replaced in free text by kind, over the files written."""
        total: dict[str, int] = {}
        for file in self.files:
            if file.status in WRITTEN_STATUSES:
                for kind, count in file.free_text_redactions.items():
                    total[kind] = total.get(kind, 0) + count
        return total


def _manifest_dir(layout: DataLayout, day: str) -> Path:
    return layout.raw / "ingest" / "load_manifest" / f"arrival_date={day}"


def _quarantine_dir(layout: DataLayout, day: str) -> Path:
    return layout.raw / "ingest" / "quarantine" / f"arrival_date={day}"


def _meta_name(spec: TableSpec, file_name: str) -> str:
    return f"{spec.source}__{spec.name}__{_stem(file_name)}.parquet"


def _stem(file_name: str) -> str:
    return file_name.split(".", 1)[0]


# Below this many rows a file is written without compression, dictionaries or statistics: a manifest row
# or a few quarantined lines take 1 ms that way instead of 5 (a history import writes thousands of them).
SMALL_FILE_ROWS = 1000
# Parquet bytes of an empty table, by schema: an empty delivery (a quiet day's header-only file, a file
# with nothing quarantined) writes the same bytes every time, so they are encoded once per process.
_EMPTY_PARQUET: dict[bytes, bytes] = {}


def _parquet_options(rows: int) -> dict:
    if rows < SMALL_FILE_ROWS:
        return {"compression": "none", "use_dictionary": False, "write_statistics": False}
    return {"compression": "zstd"}


def _empty_parquet_bytes(schema: pa.Schema) -> bytes:
    key = schema.serialize().to_pybytes()
    if key not in _EMPTY_PARQUET:
        sink = pa.BufferOutputStream()
        pq.write_table(schema.empty_table(), sink, **_parquet_options(0))
        _EMPTY_PARQUET[key] = sink.getvalue().to_pybytes()
    return _EMPTY_PARQUET[key]


def _write_parquet_atomically(table: pa.Table, path: Path, order_by: str) -> None:
    """Write ``table`` (sorted by ``order_by`` if given) to ``path`` through a temporary file. pyarrow's
    writer, not DuckDB's COPY: it takes 110 ms for a day's tracking file where COPY takes 240 ms, and it
    leaves the parsing thread's DuckDB alone. Small and empty tables take the cheap ways above."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)  # the first file of a partition
    temporary = path.with_name(f".{path.name}.tmp")
    if table.num_rows == 0:
        temporary.write_bytes(_empty_parquet_bytes(table.schema))
    else:
        ordered = table.sort_by(order_by) if order_by and table.num_rows > 1 else table
        pq.write_table(ordered, temporary, **_parquet_options(table.num_rows))
    os.replace(temporary, path)


def _write_private(
    private_db: Path, spec: TableSpec, file_name: str, parsed: ParsedFile, private: pa.Table
) -> None:
    """Replace this file's rows in ``private.duckdb`` (clear personal data and quarantined lines), in one
    transaction, through the open store of :func:`private_store_session` if there is one."""
    existed = private_db.exists()
    con = _private_connection(private_db)
    try:
        con.execute(
            "create table if not exists quarantined_lines (source varchar, table_name varchar, "
            "file_name varchar, line_number bigint, reason varchar, line_text varchar)"
        )
        con.execute("begin")
        con.execute(
            "delete from quarantined_lines where source = ? and table_name = ? and file_name = ?",
            [spec.source, spec.name, file_name],
        )
        con.register("new_quarantine", parsed.quarantine)
        con.execute(
            "insert into quarantined_lines select source, table_name, file_name, line_number, reason, "
            "line_text from new_quarantine"
        )
        if private.num_columns:
            pii_table = quote_identifier(f"pii_{spec.source}__{spec.name}")
            # Rows without any clear value hold nothing personal (most tracking events): not stored.
            clear = [
                name
                for name in private.column_names
                if not name.startswith("_") and not name.endswith("_hash")
            ]
            if clear:
                holds_personal_data = pc.is_valid(private.column(clear[0]))
                for name in clear[1:]:
                    holds_personal_data = pc.or_(holds_personal_data, pc.is_valid(private.column(name)))
                private = private.filter(holds_personal_data)
            con.register("new_private", private)
            con.execute(f"create table if not exists {pii_table} as select * from new_private limit 0")
            con.execute(f"delete from {pii_table} where _source_file = ?", [file_name])
            con.execute(f"insert into {pii_table} by name select * from new_private")
        con.execute("commit")
    finally:
        con.close()  # a cursor closed inside its transaction rolls it back
    if private.num_columns and str(private_db) in _PRIVATE_SESSIONS:
        _PRIVATE_TABLES_WRITTEN.setdefault(str(private_db), set()).add(spec.key)
    if not existed:
        os.chmod(private_db, 0o600)


# private.duckdb per path while a private_store_session is open: None until its first write.
_PRIVATE_SESSIONS: dict[str, duckdb.DuckDBPyConnection | None] = {}
# The pii_* tables written in each open session: an empty file of such a table needs no write.
_PRIVATE_TABLES_WRITTEN: dict[str, set[tuple[str, str]]] = {}


def _private_table_known(private_db: Path, spec: TableSpec) -> bool:
    """True when this session already wrote the table's private rows (so its table exists)."""
    return spec.key in _PRIVATE_TABLES_WRITTEN.get(str(private_db), set())


def _private_connection(private_db: Path) -> duckdb.DuckDBPyConnection:
    """A connection to ``private.duckdb`` to close after use: a cursor of the session's store (opened on
    the session's first write, so that a failure to open it meets the caller's retry handling), else a
    connection of its own."""
    key = str(private_db)
    if key not in _PRIVATE_SESSIONS:
        return duckdb.connect(key)
    if _PRIVATE_SESSIONS[key] is None:
        _PRIVATE_SESSIONS[key] = duckdb.connect(key)
    return _PRIVATE_SESSIONS[key].cursor()


@contextmanager
def private_store_session(private_db: Path) -> Iterator[None]:
    """Keep ``private.duckdb`` open while one run loads many files: opening it (and checkpointing it on
    close) for every file costs more than writing a small file's rows. Each file is still its own
    transaction; a run that writes nothing private never opens it."""
    _PRIVATE_SESSIONS[str(private_db)] = None
    try:
        yield
    finally:
        _PRIVATE_TABLES_WRITTEN.pop(str(private_db), None)
        con = _PRIVATE_SESSIONS.pop(str(private_db))
        if con is not None:
            con.close()


def _amount_loaded(spec: TableSpec, rows: pa.Table) -> Decimal | None:
    if spec.amount_column is None:
        return None
    total = pc.sum(rows.column(spec.amount_column)).as_py()
    return Decimal(total or 0).quantize(Decimal("0.01"))


def _reconcile(path: Path, spec: TableSpec, parsed: ParsedFile, control: ControlEntry) -> None:
    if parsed.lines_read != control.row_count:
        raise LoadError(
            f"{path}: control file says {control.row_count} rows, the file has {parsed.lines_read} "
            f"(difference {parsed.lines_read - control.row_count:+d})" + _repeated_header_text(parsed)
        )
    loaded = _amount_loaded(spec, parsed.rows)
    if control.amount_total is not None and loaded is not None and loaded != control.amount_total:
        raise LoadError(
            f"{path}: control file says {spec.amount_column} total {control.amount_total}, loaded "
            f"{loaded} (difference {loaded - control.amount_total:+})" + _quarantined_lines_text(parsed)
        )


def _repeated_header_text(parsed: ParsedFile) -> str:
    """The lines that are the header again (two exports concatenated), which a control file may not count:
    ``; line(s) 5 repeat the header (quarantined as repeated_header)``."""
    reasons = parsed.quarantine.column("reason")
    numbers = parsed.quarantine.filter(pc.equal(reasons, "repeated_header")).column("line_number").to_pylist()
    if not numbers:
        return ""
    return f"; line(s) {', '.join(map(str, numbers))} repeat the header (quarantined as repeated_header)"


def _quarantined_lines_text(parsed: ParsedFile, shown: int = 10) -> str:
    """The quarantined lines that may explain a control-total difference (their amounts were not
    loaded), as text for the message: ``; quarantined lines: 3 (bad_number amount), …``."""
    if not parsed.rows_quarantined:
        return "; no line quarantined"
    lines = parsed.quarantine.select(["line_number", "reason", "detail"]).slice(0, shown).to_pylist()
    listed = ", ".join(f"{line['line_number']} ({line['reason']} {line['detail']})".strip() for line in lines)
    more = f" and {parsed.rows_quarantined - shown} more" if parsed.rows_quarantined > shown else ""
    return f"; quarantined lines: {listed}{more}"


def ingest_limits(rules: dict) -> dict[str, float | int]:
    """The quarantine limits of ``vars: fundcdp: ingest:`` as keyword arguments of :func:`land_table_day`."""
    return {
        "max_quarantine_share": float(rules["ingest"]["max_quarantine_share"]),
        "max_quarantine_free_lines": int(rules["ingest"]["max_quarantine_free_lines"]),
    }


@dataclass(frozen=True)
class PreparedFile:
    """A delivered file read and parsed ahead of its turn by :func:`prepare_day`; used only if the file is
    still the same (inode, size, modification and change times)."""

    file_identity: tuple[int, ...]
    content: FileContent
    parsed: ParsedFile


def prepare_day(layout: DataLayout, spec: TableSpec, day: str) -> dict[str, PreparedFile]:
    """Read and parse each of one table's files of a day without writing anything, so that a caller can
    parse the next days while this one is being written (the parsing is most of a load's time). A file
    that cannot be read or parsed is left out: :func:`land_table_day` meets the failure in its turn."""
    prepared: dict[str, PreparedFile] = {}
    try:
        listed = read_control_file(control_file_path(layout, spec.source, day))
    except (LoadError, OSError):
        return prepared  # land_table_day names what is wrong with the delivery
    for name in sorted(listed):
        path = layout.landing_day(spec.source, day) / name
        if not spec.matches_file(name, day):
            continue
        try:
            identity = _file_identity(path)
            content = read_file(path, spec)
            parsed = parse_file(content, spec, path.name)
        except Exception:  # noqa: BLE001 - only a head start: land_table_day redoes it and raises in its turn
            continue
        prepared[path.name] = PreparedFile(identity, content, parsed)
    return prepared


def prepare_days(layout: DataLayout, spec: TableSpec, days: list[str]) -> dict[str, dict[str, PreparedFile]]:
    """:func:`prepare_day` for many days at once (a history import): the CSV files of all ``days`` are
    typed by one DuckDB statement (:func:`orchestration.defs.ingest.loader.parse_csv_files`) instead of one
    per
    file, which is most of a small file's parsing cost. Tracking files are parsed one by one (each is a
    day's gzip stream). If any file of the batch cannot be parsed, each file is parsed on its own so that
    only that one is left out."""
    if spec.file_format != "csv":
        return {day: prepare_day(layout, spec, day) for day in days}
    found: list[tuple[str, str, tuple[int, ...], FileContent]] = []
    for day in days:
        try:
            listed = read_control_file(control_file_path(layout, spec.source, day))
        except (LoadError, OSError):
            continue
        for name in sorted(listed):
            path = layout.landing_day(spec.source, day) / name
            if not spec.matches_file(name, day):
                continue
            try:
                found.append((day, name, _file_identity(path), read_file(path, spec)))
            except Exception:  # noqa: BLE001 - only a head start: land_table_day meets it in its turn
                continue
    prepared: dict[str, dict[str, PreparedFile]] = {day: {} for day in days}
    try:
        parsed_files = parse_csv_files([content for *_, content in found], spec)
    except Exception:  # noqa: BLE001 - one unreadable file: parse one by one, leaving only it out
        parsed_files = []
        for _, name, _, content in found:
            try:
                parsed_files.append(parse_file(content, spec, name))
            except Exception:  # noqa: BLE001
                parsed_files.append(None)
    for (day, name, identity, content), parsed in zip(found, parsed_files, strict=True):
        if parsed is not None:
            prepared[day][name] = PreparedFile(identity, content, parsed)
    return prepared


def _call(function, *arguments) -> None:
    function(*arguments)


class FileWriter:
    """Writes a run's raw files on one thread of its own, in the order they were handed over, while the
    caller goes on with the next day (a history import writes three small files per table and day, most of
    the time in file system calls). :meth:`wait` raises the first error of the writes handed over since the
    last wait. Once a write failed, none of the writes handed over after it runs: a file's manifest row is
    handed over after its Parquet and quarantine files, so a failed write never leaves a manifest row that
    would make the retry skip the file as ``unchanged``."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw-writer")
        self._pending: list[Future] = []
        self._failed: BaseException | None = None

    def _guarded(self, function, *arguments) -> None:
        if self._failed is not None:
            raise RuntimeError("not written: an earlier raw write of this run failed") from self._failed
        try:
            function(*arguments)
        except BaseException as error:
            self._failed = error
            raise

    def submit(self, function, *arguments) -> None:
        self._pending.append(self._thread.submit(self._guarded, function, *arguments))

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for write in pending:
            write.result()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *_: object) -> None:
        # On an error the writes already handed over still finish (each file is atomic), none is added.
        self._thread.shutdown(wait=True)


def _protect(rows: pa.Table, spec: TableSpec, hash_key: bytes, junk: JunkRules) -> tuple[pa.Table, pa.Table]:
    """:func:`protect_table`, skipped for a table without personal columns (it would return the rows as
    they are and no private table)."""
    if not any(column.pii for column in spec.columns):
        return rows, pa.table({})
    return protect_table(rows, spec, hash_key, junk)


def _file_identity(path: Path) -> tuple[int, ...]:
    """What tells a file re-delivered in place (``cp -p`` keeps the size and the mtime, not the inode or
    the ctime)."""
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def land_table_day(
    layout: DataLayout,
    spec: TableSpec,
    day: str,
    hash_key: bytes,
    junk: JunkRules,
    max_quarantine_share: float,
    max_quarantine_free_lines: int = 0,
    now: datetime | None = None,
    history: list[dict] | None = None,
    tombstones: Tombstones | None = None,
    reload_files: frozenset[str] = frozenset(),
    prepared: dict[str, PreparedFile] | None = None,
    writer: FileWriter | None = None,
    due: bool = True,
) -> DayOutcome:
    """Load one table's files of one arrival day. Raises :class:`LoadError` before writing anything
    if the delivery is incomplete or does not reconcile with its control file.

    ``history`` is the table's manifest rows over all days (read from ``raw/`` when not given); a caller
    loading many days passes one list, which this function extends with the rows it writes. ``prepared``:
    files of this day already read and parsed by :func:`prepare_day`. ``writer``: a :class:`FileWriter`
    that writes the files in the background; the caller waits for it before relying on them. ``due``:
    whether the source was due to deliver that day (:mod:`orchestration.defs.ingest.delivery_schedule`); a
    source
    not due that delivered nothing is an empty outcome marked ``not_due``, one that delivered is loaded."""
    day_dir = layout.landing_day(spec.source, day)
    if not day_dir.is_dir():
        if not due:
            return DayOutcome(spec.source, spec.name, day, not_due=True)
        raise LoadError(
            f"{day_dir}: no delivery for {spec.source} on {day}, which was due (vars fundcdp.deliveries."
            "schedule)"
        )
    if history is None:
        history = previous_manifest(layout, spec)
    # Every listed file read by a table, or the load fails naming it (the sensor checks the same).
    reconciliation = reconcile_delivery(
        layout, spec.source, day, loaded_hashes=lambda _: _loaded_hashes(history), table=spec.name
    )
    reconciliation.raise_for(spec, layout)
    control = reconciliation.control
    # Files the control file lists come first, so that a re-sent copy is the one seen as the duplicate.
    files = [day_dir / name for name in reconciliation.files_of(spec.name)]
    if not files:
        raise LoadError(f"{day_dir}: no {spec.name} file delivered (expected {spec.name}_<YYYYMMDD>.*)")

    if isinstance(history, ManifestHistory):
        loaded_hashes = dict(history.loaded_hashes)
        this_day = dict(history.by_day.get(day, {}))
    else:
        loaded_hashes = {
            row["content_sha256"]: row["file_name"]
            for row in history
            if row["status"] in (*WRITTEN_STATUSES, "unchanged")
        }
        this_day = {row["file_name"]: row for row in history if str(row.get("arrival_date")) == day}
    outcome = DayOutcome(spec.source, spec.name, day)
    to_write: list[tuple[Path, ParsedFile, dict | None, tuple[pa.Table, pa.Table], int, bool]] = []
    duplicates: list[tuple[Path, str, str]] = []
    for path in files:
        ahead = (prepared or {}).get(path.name)
        if ahead is not None and ahead.file_identity == _file_identity(path):
            content = ahead.content
        else:
            content, ahead = read_file(path, spec), None
        previous = this_day.get(path.name)
        unchanged = previous is not None and previous["content_sha256"] == content.content_sha256
        if unchanged and path.name not in reload_files:
            outcome.files.append(_unchanged(path.name, previous))
            continue
        if path.name not in control:
            # Not announced by the control file: acceptable only as a re-send of content already loaded.
            first_name = loaded_hashes.get(content.content_sha256)
            if first_name is None:
                raise LoadError(
                    f"{path}: not listed in the control file "
                    f"{control_file_path(layout, spec.source, day).name} and not a copy of a loaded file"
                )
            duplicates.append((path, content.content_sha256, first_name))
            outcome.files.append(
                FileOutcome(path.name, "duplicate", content.line_count, duplicate_of=first_name)
            )
            continue
        parsed = ahead.parsed if ahead is not None else parse_file(content, spec, path.name)
        _reconcile(path, spec, parsed, control[path.name])
        protected = _protect(parsed.rows, spec, hash_key, junk)
        erased = 0
        if tombstones:
            mask = erased_rows_mask(*protected, spec.key, tombstones)
            dropped = parsed.rows.filter(mask)
            # A line that would be quarantined is checked too (by the identifiers in its text): it is
            # cut with the person's rows, never stored as a quarantined line.
            cut = set(dropped.column("_source_line").to_pylist())
            cut |= erased_quarantine_lines(parsed.quarantine, tombstones)
            erased = len(cut)
            if erased:
                # The delivery reconciled as delivered; now cut the erased lines from the landing file and
                # its control entry, and load what remains as if it had been delivered that way.
                amount = _amount_loaded(spec, dropped)
                redact_landing_file(
                    path,
                    cut,
                    spec.file_format,
                    control_file_path(layout, spec.source, day),
                    amount,
                )
                control = read_control_file(control_file_path(layout, spec.source, day))
                content = read_file(path, spec)
                parsed = parse_file(content, spec, path.name)
                _reconcile(path, spec, parsed, control[path.name])
                protected = _protect(parsed.rows, spec, hash_key, junk)
        if unchanged and not erased:
            outcome.files.append(_unchanged(path.name, previous))
            continue
        if parsed.rows_quarantined > max(max_quarantine_share * parsed.lines_read, max_quarantine_free_lines):
            raise LoadError(
                f"{path}: {parsed.rows_quarantined} of {parsed.lines_read} lines quarantined, above the "
                f"allowed {max_quarantine_share:.0%} and {max_quarantine_free_lines} lines "
                "(vars fundcdp.ingest)"
            )
        loaded_hashes[content.content_sha256] = path.name
        redacted = (
            previous is not None and erased > 0 and previous["content_sha256"] != content.content_sha256
        )
        to_write.append((path, parsed, previous, protected, erased, redacted and unchanged))

    loaded_at = (now or datetime.now(local_zone())).replace(tzinfo=None, microsecond=0)
    # Each file's Parquet, quarantine and manifest files are written in this order, here or by the
    # caller's writer thread (which keeps the order); its private rows are replaced here.
    write = writer.submit if writer is not None else _call
    for path, parsed, previous, (public, private), erased, redacted in to_write:
        write(
            _write_parquet_atomically,
            public,
            layout.raw_partition(spec.source, spec.name, day) / f"{_stem(path.name)}.parquet",
            "_source_line",
        )
        write(crash_if_armed, "raw_partition_write")
        write(
            _write_parquet_atomically,
            parsed.quarantine.drop_columns(["line_text"]),
            _quarantine_dir(layout, day) / _meta_name(spec, path.name),
            "line_number",
        )
        # Nothing private to store and nothing stored before for this file: skip opening the store (an
        # empty delivery of a table with personal columns still creates its table, once per session).
        if (
            private.num_rows
            or parsed.rows_quarantined
            or previous is not None
            or (private.num_columns and not _private_table_known(layout.private_db, spec))
        ):
            _write_private(layout.private_db, spec, path.name, parsed, private)
        status = "redacted" if redacted else "corrected" if previous is not None else "loaded"
        manifest = _manifest_row(
            spec,
            path,
            parsed.content.size_bytes,
            parsed.content.content_sha256,
            parsed,
            status,
            None,
            previous,
            loaded_at,
        )
        write(
            _write_parquet_atomically, manifest, _manifest_dir(layout, day) / _meta_name(spec, path.name), ""
        )
        history.extend({**row, "arrival_date": day} for row in manifest.to_pylist())
        reasons = pc.value_counts(parsed.quarantine.column("reason")).to_pylist()
        outcome.files.append(
            FileOutcome(
                path.name,
                status,
                parsed.lines_read,
                parsed.rows_loaded,
                parsed.rows_quarantined,
                {r["values"]: r["counts"] for r in reasons},
                rows_erased=erased,
                free_text_redactions=dict(sorted(parsed.free_text_redactions.items())),
                invisible_characters_stripped=parsed.invisible_characters_stripped,
            )
        )
    for path, sha, first_name in duplicates:
        manifest = _manifest_row(
            spec,
            path,
            path.stat().st_size,
            sha,
            None,
            "duplicate",
            first_name,
            this_day.get(path.name),
            loaded_at,
        )
        write(
            _write_parquet_atomically, manifest, _manifest_dir(layout, day) / _meta_name(spec, path.name), ""
        )
        history.extend({**row, "arrival_date": day} for row in manifest.to_pylist())
    outcome.files.sort(key=lambda f: f.file_name)
    return outcome


def _loaded_hashes(history: list[dict]) -> dict[str, str]:
    """Content SHA-256 -> file name of the files ``history`` (manifest rows) loaded."""
    if isinstance(history, ManifestHistory):
        return history.loaded_hashes
    return {
        row["content_sha256"]: row["file_name"]
        for row in history
        if row["status"] in (*WRITTEN_STATUSES, "unchanged")
    }


def _unchanged(file_name: str, previous: dict) -> FileOutcome:
    """A file loaded before with the same content: its earlier counts."""
    return FileOutcome(
        file_name, "unchanged", previous["lines_read"], previous["rows_loaded"], previous["rows_quarantined"]
    )


def _manifest_row(
    spec: TableSpec,
    path: Path,
    size: int,
    sha: str,
    parsed: ParsedFile | None,
    status: str,
    duplicate_of: str | None,
    previous: dict | None,
    loaded_at: datetime,
) -> pa.Table:
    amount = _amount_loaded(spec, parsed.rows) if parsed is not None else None
    row = {
        "source": spec.source,
        "table_name": spec.name,
        "file_name": path.name,
        "file_size_bytes": size,
        "content_sha256": sha,
        "lines_read": parsed.lines_read if parsed else 0,
        "rows_loaded": parsed.rows_loaded if parsed else 0,
        "rows_quarantined": parsed.rows_quarantined if parsed else 0,
        "amount_loaded": amount,
        "status": status,
        "duplicate_of": duplicate_of,
        "replaced_sha256": previous["content_sha256"]
        if previous and status in ("corrected", "redacted")
        else None,
        # Columns the file delivered beyond the table's spec: not loaded, but never silently.
        "ignored_columns": ",".join(parsed.ignored_columns) if parsed and parsed.ignored_columns else None,
        "loaded_at": loaded_at,
        "free_text_redactions": sum(parsed.free_text_redactions.values()) if parsed else None,
        "invisible_characters_stripped": parsed.invisible_characters_stripped if parsed else None,
    }
    return pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA)
