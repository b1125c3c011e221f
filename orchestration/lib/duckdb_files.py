"""DuckDB files that hold personal data: owner-only working copies and compaction into a fresh file."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.lib.sql import quote_identifier


@contextmanager
def owner_only() -> Iterator[None]:
    """Files created inside the block are readable by their owner only (working copies of a database
    that holds personal data must never be readable by others, not even for a moment)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def working_copy(path: Path, suffix: str) -> Path:
    """A copy of a DuckDB file next to it, created owner-only."""
    copy = path.with_name(f"{path.stem}_{suffix}.duckdb")
    with owner_only():
        copy.unlink(missing_ok=True)
        shutil.copyfile(path, copy)
    return copy


def compact_database(path: Path, mode: int | None = None, target: Path | None = None) -> None:
    """Rewrite a DuckDB file into a fresh one (COPY FROM DATABASE) and swap it in atomically over
    ``target`` (default: the file itself); the source file is removed when it is not the target."""
    target = target or path
    mode = mode if mode is not None else path.stat().st_mode & 0o777
    fresh = target.with_name(f"{target.stem}_compacting.duckdb")
    fresh.unlink(missing_ok=True)
    with owner_only():
        con = duckdb.connect(str(path))
        try:
            source = con.execute("select current_database()").fetchall()[0][0]
            con.execute("attach ? as compacted", [str(fresh)])
            con.execute(f"copy from database {quote_identifier(source)} to compacted")
            con.execute("detach compacted")
        finally:
            con.close()
    os.chmod(fresh, mode)
    os.replace(fresh, target)
    if path != target:
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
