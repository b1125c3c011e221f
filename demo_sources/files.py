"""Turn delivered rows into landing files: per-day CSV files, control files, and the defects truth rows.

Every file's bytes are built in memory (CSV) and written once, so output is byte-identical for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo_sources.config import EPOCH, Window
from demo_sources.csv_tables import TableRows

BOM = b"\xef\xbb\xbf"


@dataclass
class Defect:
    """One row of demo_truth/defects.csv."""

    file: str
    line: int | None
    kind: str
    detail: str


@dataclass
class JunkLine:
    """An extra garbled line inserted right after the row `after_row` (index into the table's rows)."""

    after_row: int
    text: str
    kind: str
    detail: str


@dataclass
class DeliveredFile:
    """One landing file (or one listed in a control file but missing)."""

    source: str
    table: str
    day: int  # delivery day (epoch day)
    name: str
    content: bytes
    row_count: int
    amount_total: str  # '' for tables without an amount column
    in_control: bool = True
    present: bool = True

    @property
    def rel_path(self) -> str:
        """Path relative to landing/."""
        return f"{self.source}/{day_folder(self.day)}/{self.name}"


def day_folder(epoch_day: int) -> str:
    """`YYYY-MM-DD` folder name of an epoch day."""
    return (EPOCH + timedelta(days=int(epoch_day))).isoformat()


def day_stamp(epoch_day: int) -> str:
    """`YYYYMMDD` of an epoch day, as used in file names."""
    return (EPOCH + timedelta(days=int(epoch_day))).strftime("%Y%m%d")


def data_file_name(table: str, epoch_day: int, ext: str = "csv") -> str:
    """`<table>_<YYYYMMDD>.<ext>`."""
    return f"{table}_{day_stamp(epoch_day)}.{ext}"


def cents_text(total_cents: int) -> str:
    """Hundredths as a two-decimal amount."""
    return f"{total_cents // 100}.{total_cents % 100:02d}"


def row_lines(rows: TableRows) -> pa.Array:
    """Each row as one CSV line (with its trailing LF)."""
    if not len(rows):
        return pa.array([], pa.string())
    columns = [pa.array(rows.fields[c].astype(str), pa.string()) for c in rows.header]
    return pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), "", "\n")


def lines_buffer(lines: pa.Array | pa.ChunkedArray) -> pa.Buffer:
    """Zero-copy view of the concatenated UTF-8 bytes of a (null-free) string array; a chunked array (a
    large table's lines pass 2 GiB of text) is copied into one buffer unless it has a single chunk."""
    if isinstance(lines, pa.ChunkedArray):
        chunks = [chunk for chunk in lines.chunks if len(chunk)]
        if len(chunks) == 1:
            return lines_buffer(chunks[0])
        return pa.py_buffer(b"".join(lines_buffer(chunk).to_pybytes() for chunk in chunks))
    if len(lines) == 0:
        return pa.py_buffer(b"")
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    _, offsets_buffer, data = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[lines.offset : lines.offset + len(lines) + 1]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def concat_bytes(lines: pa.Array) -> bytes:
    """The concatenated UTF-8 bytes of a (null-free) string array."""
    return lines_buffer(lines).to_pybytes()


def build_csv_files(
    rows: TableRows, window: Window, junk: list[JunkLine]
) -> tuple[list[DeliveredFile], list[Defect]]:
    """One file per delivery day (header-only when empty), junk lines inserted, defects located."""
    lines = row_lines(rows)
    header = (",".join(rows.header) + "\n").encode()
    prefix = BOM if rows.source == "crm" else b""
    junk_by_row: dict[int, list[JunkLine]] = {}
    for j in sorted(junk, key=lambda item: item.after_row):
        junk_by_row.setdefault(j.after_row, []).append(j)
    junk_rows = np.array(sorted(junk_by_row), dtype=np.int64)
    bounds = np.searchsorted(rows.deliver_day, np.arange(window.start_day, window.end_day + 2))
    files, defects = [], []
    for i, day in enumerate(range(window.start_day, window.end_day + 1)):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        name = data_file_name(rows.table, day)
        rel = f"{rows.source}/{day_folder(day)}/{name}"
        day_junk = junk_rows[(junk_rows >= lo) & (junk_rows < hi)]
        pieces: list[bytes] = []
        line_of_row = np.arange(lo, hi) - lo + 2
        cursor = lo
        inserted = 0
        for r in day_junk:
            pieces.append(concat_bytes(lines[cursor : r + 1]))
            line_of_row[cursor - lo : r + 1 - lo] += inserted
            for j in junk_by_row[int(r)]:
                inserted += 1
                pieces.append((j.text + "\n").encode())
                defects.append(Defect(rel, int(r - lo + 2 + inserted), j.kind, j.detail))
            cursor = int(r) + 1
        pieces.append(concat_bytes(lines[cursor:hi]))
        line_of_row[cursor - lo :] += inserted
        for k in np.flatnonzero(rows.defect[lo:hi] != None):  # noqa: E711 - elementwise
            defects.append(
                Defect(rel, int(line_of_row[k]), str(rows.defect[lo + k]), str(rows.detail[lo + k]))
            )
        amount = ""
        if rows.amount_c is not None:
            values = rows.amount_c[lo:hi]
            amount = cents_text(int(values[values >= 0].sum()))
        content = prefix + header + b"".join(pieces)
        files.append(DeliveredFile(rows.source, rows.table, day, name, content, hi - lo + inserted, amount))
    return files, defects


def control_files(files: list[DeliveredFile], window: Window) -> list[DeliveredFile]:
    """`_control_<YYYYMMDD>.csv` per source and day, listing the day's files (re-sent copies excluded)."""
    out = []
    for source in sorted({f.source for f in files}):
        for day in range(window.start_day, window.end_day + 1):
            listed = sorted(
                (f for f in files if f.source == source and f.day == day and f.in_control),
                key=lambda f: f.name,
            )
            body = "file_name,row_count,amount_total\n" + "".join(
                f"{f.name},{f.row_count},{f.amount_total}\n" for f in listed
            )
            prefix = BOM if source == "crm" else b""
            name = f"_control_{day_stamp(day)}.csv"
            out.append(DeliveredFile(source, "_control", day, name, prefix + body.encode(), len(listed), ""))
    return out


def write_files(landing: Path, files: list[DeliveredFile]) -> int:
    """Write every present file under landing/; returns how many were written."""
    written = 0
    for f in files:
        if not f.present:
            continue
        path = landing / f.rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.content)
        written += 1
    return written
