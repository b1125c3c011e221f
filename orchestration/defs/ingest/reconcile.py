"""One reconciliation of a source's delivery of one day against its control file.

:func:`reconcile_delivery` decides, by file name (and, for a file the control file does not list, by
content), which file each table of the source reads that day and what is wrong with the delivery. The
loader (:func:`orchestration.defs.ingest.land.land_table_day`: ``cli day``, backfills, history imports, the
privacy step's reloads) and the delivery sensor (:func:`orchestration.defs.ingest.deliveries.inspect_day`)
both
call it, so they cannot disagree on whether a day is complete. Every file the control file lists is read
by a table of the source, or the day fails naming it and why:

========================  ===========================================================  ==================
problem                   what                                                         stops
========================  ===========================================================  ==================
``no_control_file``       the day's ``_control_<YYYYMMDD>.csv`` is not there           every table
``unreadable_control``    it lacks a column or a line does not parse                   every table
``listed_missing``        listed, not in the folder                                    every table
``listed_unread``         listed and there, but no table reads it: a hidden name          every table
                          (``.x``: a copy in progress), a path into a sub-folder
``other_day``             a table's file name carrying another day's date, listed or   the table
                          not (``trade_orders_20260630_part2.csv`` in 2026-07-01/)
``refused_name``          a name that fits no table's pattern (a quote, a space, ...)  the table it
                                                                                       claims, else all
``not_listed``            a table's file of the day the control file does not list,    the table
                          and not a copy of a listed or already loaded file
========================  ===========================================================  ==================

A file the control file does not list but whose content is a listed file's of the day, or a file loaded
before, is a re-send: read as a ``duplicate`` (not loaded again), not a problem. Hidden files that are not
listed are left alone (copies in progress). Row counts and amount totals are reconciled per file where the
file is read (the loader's parse, the sensor's line count).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from orchestration.defs.ingest.loader import LoadError, visible
from orchestration.defs.ingest.manifest import previous_manifest
from orchestration.lib.layout import DataLayout, file_sha256
from orchestration.lib.sources import MAX_FILE_NAME_LENGTH, TableSpec, tables_of


@dataclass(frozen=True)
class ControlEntry:
    """One line of a day's control file."""

    file_name: str
    row_count: int
    amount_total: Decimal | None


def control_file_path(layout: DataLayout, source: str, day: str) -> Path:
    return layout.landing_day(source, day) / f"_control_{day.replace('-', '')}.csv"


# Parsed control files by path, with the (inode, size, modification time) they were parsed at: each table
# of a source reads its day's control file, twice when its day was parsed ahead.
_CONTROL_FILES: dict[str, tuple[tuple[int, ...], dict[str, ControlEntry]]] = {}


def read_control_file(path: Path) -> dict[str, ControlEntry]:
    """Parse a control file (``file_name,row_count,amount_total``) keyed by file name (a copy: the caller
    may change it)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise LoadError(f"{path}: control file missing; the day's delivery cannot be reconciled") from None
    identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    cached = _CONTROL_FILES.get(str(path))
    if cached is not None and cached[0] == identity:
        return dict(cached[1])
    entries = _parse_control_file(path)
    if len(_CONTROL_FILES) > 10_000:
        _CONTROL_FILES.clear()
    _CONTROL_FILES[str(path)] = (identity, entries)
    return dict(entries)


def _parse_control_file(path: Path) -> dict[str, ControlEntry]:
    if not path.exists():
        raise LoadError(f"{path}: control file missing; the day's delivery cannot be reconciled")
    entries: dict[str, ControlEntry] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file_name", "row_count", "amount_total"} - set(reader.fieldnames or ())
        if missing:
            raise LoadError(f"{path}: control file lacks column(s) {', '.join(sorted(missing))}")
        for line_number, record in enumerate(reader, start=2):
            try:
                amount = record["amount_total"].strip()
                entries[record["file_name"].strip()] = ControlEntry(
                    record["file_name"].strip(),
                    int(record["row_count"]),
                    Decimal(amount) if amount else None,
                )
            except (ValueError, InvalidOperation, AttributeError):
                raise LoadError(f"{path}: line {line_number} of the control file is not readable") from None
    return entries


def _other_day(specs: tuple[TableSpec, ...], name: str, day: str) -> tuple[TableSpec, str] | None:
    """The table whose pattern ``name`` fits with another (valid) day's date, and that date."""
    for spec in specs:
        dated = spec.delivery_day(name) if len(name) <= MAX_FILE_NAME_LENGTH else None
        if dated is not None and dated != day:
            return spec, dated
    return None


def _delivered_names(folder: Path, control_name: str) -> list[str]:
    """The day folder's regular files that a table could read: not the control file, not hidden."""
    if not folder.is_dir():
        return []
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.name != control_name and not path.name.startswith(".") and path.is_file()
    )


def refused_file_names(layout: DataLayout, spec: TableSpec, day: str) -> list[str]:
    """Files of the day's folder that this table must refuse: they claim to be this table's (their name
    starts with it) but do not fit its pattern for the day (another day's date included), or they fit no
    table of the source and claim none. The control file and hidden files (``.name``) are neither."""
    specs = tables_of(spec.source)
    control = control_file_path(layout, spec.source, day).name
    refused = []
    for name in _delivered_names(layout.landing_day(spec.source, day), control):
        if any(other.matches_file(name, day) for other in specs):
            continue
        claimed_by = [other for other in specs if other.claims_file(name)]
        if spec in claimed_by or not claimed_by:
            refused.append(name)
    return refused


def refused_file_message(layout: DataLayout, spec: TableSpec, day: str, names: list[str]) -> str:
    """One line naming the refused files (as Python literals: a name may hold quotes or control
    characters) and the pattern expected."""
    folder = layout.landing_day(spec.source, day)
    return (
        f"{folder}: file name(s) not accepted, not loaded: {', '.join(repr(n) for n in names)}; a "
        f"{spec.name} file of {day} must be named {spec.file_pattern_text} (pattern "
        f"^{spec.file_pattern}$, ASCII only, at most {MAX_FILE_NAME_LENGTH} characters)"
    )


@dataclass(frozen=True)
class DeliveryProblem:
    """One thing wrong with a source's delivery of a day (kinds: see the module)."""

    kind: str
    file_name: str | None
    table: str | None  # the table it stops; None: every table of the source
    reason: str  # why, without the folder

    @property
    def text(self) -> str:
        """``'<file>': <reason>`` (the name as a literal: it may hold quotes or control characters)."""
        return f"{self.file_name!r}: {self.reason}" if self.file_name is not None else self.reason


# Hashes of the files loaded before (content SHA-256 -> file name), for one table.
LoadedHashes = Callable[[TableSpec], Mapping[str, str]]


@dataclass
class Reconciliation:
    """What :func:`reconcile_delivery` found for one source and day."""

    source: str
    day: str
    folder: Path
    control_name: str
    control: dict[str, ControlEntry] = field(default_factory=dict)
    # Table -> the files it reads that day: the listed ones, then re-sends (copies) not listed.
    files: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, str] = field(default_factory=dict)  # re-send -> the file whose content it copies
    problems: list[DeliveryProblem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems

    def problems_of(self, table: str) -> list[DeliveryProblem]:
        """The problems that stop ``table``: its own and the source's."""
        return [problem for problem in self.problems if problem.table in (None, table)]

    def files_of(self, table: str) -> list[str]:
        return self.files.get(table, [])

    def loader_message(self, spec: TableSpec, layout: DataLayout) -> str | None:
        """The message the load of ``spec`` fails with (None: nothing stops it), one sentence per kind."""
        problems = self.problems_of(spec.name)
        if not problems:
            return None
        control_path = self.folder / self.control_name
        sentences: list[str] = []
        by_kind: dict[str, list[DeliveryProblem]] = {}
        for problem in problems:
            by_kind.setdefault(problem.kind, []).append(problem)
        for kind, found in by_kind.items():
            names = [problem.file_name for problem in found if problem.file_name is not None]
            if kind == "no_control_file":
                sentences.append(
                    f"{control_path}: control file missing; the day's delivery cannot be reconciled"
                )
            elif kind == "unreadable_control":
                sentences.extend(problem.reason for problem in found)
            elif kind == "listed_missing":
                sentences.append(
                    f"{self.folder}: incomplete delivery, listed in the control file but missing: "
                    + ", ".join(visible(name) for name in names)
                )
            elif kind == "refused_name":
                sentences.append(refused_file_message(layout, spec, self.day, names))
            else:
                sentences.extend(f"{self.folder}: {problem.text}" for problem in found)
        return "; ".join(sentences)

    def raise_for(self, spec: TableSpec, layout: DataLayout) -> None:
        """:class:`LoadError` naming every problem that stops the load of ``spec``."""
        message = self.loader_message(spec, layout)
        if message is not None:
            raise LoadError(message)

    def sensor_problems(self) -> list[str]:
        """The problems as the delivery sensor lists them, one line each, ``<source>: ...``."""
        lines: list[str] = []
        refused = [p.file_name for p in self.problems if p.kind == "refused_name" and p.file_name is not None]
        for problem in self.problems:
            if problem.kind == "no_control_file":
                lines.append(f"{self.source}: control file {self.control_name} not arrived")
            elif problem.kind == "unreadable_control":
                lines.append(f"{self.source}: {problem.reason}")
            elif problem.kind == "listed_missing":
                lines.append(f"{self.source}: {visible(problem.file_name or '')} not arrived")
            elif problem.kind != "refused_name":
                lines.append(f"{self.source}: {problem.text}")
        if refused:
            extension = "jsonl.gz" if self.source == "tracking" else "csv"
            names = sorted(set(refused))
            lines.append(
                f"{self.source}: file name(s) not accepted: {', '.join(repr(name) for name in names)}; "
                f"expected <table>_<YYYYMMDD>[_<letters or digits>...].{extension}"
            )
        return lines


def _manifest_hashes(layout: DataLayout) -> LoadedHashes:
    def loaded(spec: TableSpec) -> Mapping[str, str]:
        return previous_manifest(layout, spec).loaded_hashes

    return loaded


def reconcile_delivery(
    layout: DataLayout,
    source: str,
    day: str,
    loaded_hashes: LoadedHashes | None = None,
    table: str | None = None,
) -> Reconciliation:
    """Reconcile ``source``'s folder of ``day`` with its control file: which files each table reads, and
    every problem by name (see the module). ``loaded_hashes``: the content hashes of files loaded before,
    per table (default: read from the raw load manifest), asked only for a file the control file does not
    list. ``table``: only that table's unlisted files are judged by content (the loader of one table);
    name problems are found for every table. The caller checks that the folder exists."""
    folder = layout.landing_day(source, day)
    control_path = control_file_path(layout, source, day)
    found = Reconciliation(source, day, folder, control_path.name)
    specs = tables_of(source)
    if not control_path.exists():
        found.problems.append(DeliveryProblem("no_control_file", None, None, "control file missing"))
        return found
    try:
        found.control = read_control_file(control_path)
    except LoadError as unreadable:
        found.problems.append(DeliveryProblem("unreadable_control", None, None, str(unreadable)))
        return found
    delivered = _delivered_names(folder, control_path.name)
    present = set(delivered)
    for name in sorted(found.control):
        reader = next((spec for spec in specs if spec.matches_file(name, day)), None)
        if reader is not None and name in present:
            found.files.setdefault(reader.name, []).append(name)
        elif name in present:
            continue  # another day's date or a refused name: judged with the folder's files below
        elif not (folder / name).exists():
            found.problems.append(
                DeliveryProblem("listed_missing", name, None, "listed in the control file but missing")
            )
        else:
            where = (
                "hidden (a copy in progress?)" if name.startswith(".") else "not a file of the day's folder"
            )
            found.problems.append(
                DeliveryProblem(
                    "listed_unread",
                    name,
                    None,
                    f"listed in the control file but {where}: no table of {source} reads it (expected "
                    f"<table>_<YYYYMMDD>[_<letters or digits>...] in {folder.name}/)",
                )
            )
    unlisted: list[tuple[TableSpec, str]] = []
    for name in delivered:
        reader = next((spec for spec in specs if spec.matches_file(name, day)), None)
        if reader is not None:
            if name not in found.control:
                unlisted.append((reader, name))
            continue
        listed = name in found.control
        dated = _other_day(specs, name, day)
        if dated is not None:
            spec, other = dated
            reason = (
                f"listed in the control file but dated {other}, not {day}: no table of {source} reads it"
                if listed
                else f"a {spec.name} file dated {other}, not {day}, in the folder of {day} (not listed in "
                f"the control file)"
            )
            found.problems.append(DeliveryProblem("other_day", name, spec.name, reason))
            continue
        claimed_by = [spec for spec in specs if spec.claims_file(name)]
        reason = "matches no table's file name pattern" + (" (listed in the control file)" if listed else "")
        for spec in claimed_by or [None]:
            found.problems.append(DeliveryProblem("refused_name", name, spec.name if spec else None, reason))
    _judge_unlisted(found, layout, unlisted, loaded_hashes or _manifest_hashes(layout), table)
    return found


def _judge_unlisted(
    found: Reconciliation,
    layout: DataLayout,
    unlisted: list[tuple[TableSpec, str]],
    loaded_hashes: LoadedHashes,
    table: str | None,
) -> None:
    """A table's file of the day that the control file does not list is read only as a re-send: its
    content is a listed file's of the day, or a file loaded before. Otherwise it is ``not_listed``."""
    for spec, name in unlisted:
        if table is not None and spec.name != table:
            continue
        sha = file_sha256(found.folder / name)
        copy_of = next(
            (listed for listed in found.files_of(spec.name) if file_sha256(found.folder / listed) == sha),
            None,
        ) or loaded_hashes(spec).get(sha)
        if copy_of is None:
            found.problems.append(
                DeliveryProblem(
                    "not_listed",
                    name,
                    spec.name,
                    f"not listed in the control file {found.control_name} and not a copy of a listed or "
                    "loaded file",
                )
            )
            continue
        found.files.setdefault(spec.name, []).append(name)
        found.duplicates[name] = copy_of
