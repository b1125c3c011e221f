"""Where things live under the data directory (``FUNDCDP_DATA_DIR``), and who may read it.

Everything the pipeline writes is the owner's only: folders 0700, files 0600, whatever the umask it was
started with (every entry point calls :func:`restrict_umask`; dbt and the demo generator inherit it).
The one exception is what analysts read — ``analytics.duckdb`` and ``reports/`` — which is 0640 (folders
0750, the data directory included so that the group can reach them) when
``FUNDCDP_ANALYTICS_GROUP_READABLE`` says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.privacy_records import ensure_archive

SOURCES = ("trade", "crm", "tracking")

# Written by the demo generator into landing/: it lists every file the generator wrote (path relative to
# landing/ -> SHA-256 of its content, under "files"). Without FUNDCDP_HASH_KEY only files listed there,
# with that content, load (:meth:`DataLayout.demo_file_problem`).
DEMO_MARKER = "DEMO_SOURCES.json"
DEMO_MARKER_FILES = "files"
# Where the demo generator writes its answer key (every clear value of every demo person): this variable,
# else ``<data dir>.demo_truth`` beside the data directory; never inside it (see :func:`demo_truth_dir`).
DEMO_TRUTH_ENV = "FUNDCDP_DEMO_TRUTH_DIR"

PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE, PRIVATE_FILE_MODE = 0o700, 0o600
SHARED_DIR_MODE, SHARED_FILE_MODE = 0o750, 0o640
ANALYTICS_GROUP_READABLE_ENV = "FUNDCDP_ANALYTICS_GROUP_READABLE"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


# In a file pattern DuckDB reads * ? [ ] as wildcards and Spark (Hadoop) also { } and \; neither can
# escape them there: a data directory named ``a[b]`` would silently read the raw/ of ``ab``.
_PATTERN_CHARACTERS = frozenset("*?[]{}\\")


def usable_data_dir(data_dir: str | Path) -> Path:
    """``data_dir`` made absolute, or ValueError with one line. dbt reads raw/ through file patterns rooted
    there (the path is quoted as SQL text, dbt_project/macros/sql_text.sql), so it may hold no pattern
    character, no NUL, and only valid UTF-8."""
    text = str(data_dir)
    if "\x00" in text:
        raise ValueError(f"data directory {text!r} contains a NUL character: rename it")
    root = Path(text).expanduser().resolve()
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"data directory {str(root)!r} is not valid UTF-8: rename it") from None
    bad = "".join(sorted(set(str(root)) & _PATTERN_CHARACTERS))
    if bad:
        raise ValueError(
            f"data directory {str(root)!r} contains {bad!r}, which DuckDB or Spark would read as a file "
            "pattern: rename it"
        )
    return root


def demo_truth_dir(data_dir: str | Path, environ: Mapping[str, str] | None = None) -> Path:
    """The demo generator's truth folder for ``data_dir``: ``$FUNDCDP_DEMO_TRUTH_DIR``, else the sibling
    ``<data dir>.demo_truth``. Outside the data directory, so that nothing the pipeline reads, writes, erases
    or copies holds it."""
    configured = (os.environ if environ is None else environ).get(DEMO_TRUTH_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    root = Path(data_dir).expanduser().resolve()
    return root.parent / f"{root.name}.demo_truth"


# SHA-256 of files already hashed by this process, by path, size, inode and modification and change
# times (ns; the change time cannot be set back by a copy): a demo landing checked before every load is
# hashed once per file, not once per check.
_SHA256_CACHE: dict[tuple[str, int, int, int, int], str] = {}
_SHA256_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (cached by path, size and modification time)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
    with _SHA256_LOCK:
        cached = _SHA256_CACHE.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with _SHA256_LOCK:
        _SHA256_CACHE[key] = digest.hexdigest()
    return digest.hexdigest()


def demo_marker_entries(landing: Path) -> dict[str, str]:
    """What the demo marker lists for a landing folder just generated: every file under it but the marker
    (path relative to ``landing``, POSIX form) -> SHA-256 of its content."""
    return {
        path.relative_to(landing).as_posix(): file_sha256(path)
        for path in sorted(landing.rglob("*"))
        if path.is_file() and path != landing / DEMO_MARKER
    }


def update_demo_marker(paths: Iterable[Path]) -> None:
    """After the pipeline rewrote landing files (an erasure cutting a person's lines): the marker entries
    of those that the demo marker lists get their new SHA-256, so that the demo still loads under the demo
    key. Files the marker does not list stay unlisted; no marker, nothing to do. ``paths`` are
    ``landing/<source>/<day>/<file>``."""
    by_landing: dict[Path, list[Path]] = {}
    for path in paths:
        by_landing.setdefault(path.parents[2], []).append(path)
    for landing, changed in by_landing.items():
        marker_path = landing / DEMO_MARKER
        if not marker_path.is_file():
            continue
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
        files = marker.get(DEMO_MARKER_FILES)
        if not isinstance(files, dict):
            continue
        updated = False
        for path in changed:
            relative = path.relative_to(landing).as_posix()
            if relative in files and path.is_file():
                files[relative] = file_sha256(path)
                updated = True
        if updated:
            temporary = marker_path.with_name(f".{marker_path.name}.tmp")
            temporary.write_text(json.dumps(marker, sort_keys=True, indent=2) + "\n", encoding="utf-8")
            os.replace(temporary, marker_path)


def restrict_umask() -> int:
    """Files and folders this process (and any subprocess it starts) creates from now on: owner only.
    Returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def analytics_group_readable(environ: Mapping[str, str] | None = None) -> bool:
    """``FUNDCDP_ANALYTICS_GROUP_READABLE`` (true/false, 1/0, yes/no, on/off; default false)."""
    value = (os.environ if environ is None else environ).get(ANALYTICS_GROUP_READABLE_ENV, "")
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ValueError(f"{ANALYTICS_GROUP_READABLE_ENV}={value!r} is not true or false")


def analyst_file_mode() -> int:
    """The mode of a file analysts read (analytics.duckdb, a report): 0640 if group-readable, else 0600."""
    return SHARED_FILE_MODE if analytics_group_readable() else PRIVATE_FILE_MODE


def analyst_dir_mode() -> int:
    return SHARED_DIR_MODE if analytics_group_readable() else PRIVATE_DIR_MODE


@dataclass(frozen=True)
class DataLayout:
    """Paths of everything the project writes, derived from one absolute data directory."""

    root: Path

    @classmethod
    def at(cls, data_dir: str | Path) -> DataLayout:
        """Layout rooted at ``data_dir``, made absolute (dbt runs from ``dbt_project/``); a path that cannot
        be read safely is refused (:func:`usable_data_dir`)."""
        return cls(usable_data_dir(data_dir))

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse_db(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def private_db(self) -> Path:
        return self.root / "private.duckdb"

    @property
    def analytics_db(self) -> Path:
        return self.root / "analytics.duckdb"

    @property
    def quality_db(self) -> Path:
        """Validation results (dq_results), written by the quality checks, read by the publish step."""
        return self.root / "quality.duckdb"

    @property
    def segments_db(self) -> Path:
        """Segment versions, members and diffs (written by the segments asset)."""
        return self.root / "segments.duckdb"

    @property
    def reports(self) -> Path:
        """The HTML reports (one per as-of date, and latest.html)."""
        return self.root / "reports"

    @property
    def alerts_log(self) -> Path:
        return self.logs / "alerts.log"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def gx(self) -> Path:
        return self.root / "gx"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt_target"

    @property
    def demo_truth(self) -> Path:
        """The demo generator's answer key, outside the data directory (:func:`demo_truth_dir`)."""
        return demo_truth_dir(self.root)

    def landing_day(self, source: str, day: str) -> Path:
        return self.landing / source / day

    def raw_table(self, source: str, table: str) -> Path:
        return self.raw / source / table

    def raw_partition(self, source: str, table: str, day: str) -> Path:
        return self.raw_table(source, table) / f"arrival_date={day}"

    def ensure(self) -> None:
        """Create the directories the pipeline writes into, owner-only (the data directory itself 0750
        when analytics.duckdb is group-readable), and restrict this process's umask (see the module)."""
        restrict_umask()
        self.root.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        self.root.chmod(analyst_dir_mode())
        for path in (self.landing, self.raw, self.outbox, self.dagster_home, self.gx, self.logs):
            path.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            path.chmod(PRIVATE_DIR_MODE)
        self.share_with_analysts()
        ensure_archive(self)

    def share_with_analysts(self) -> None:
        """Give analytics.duckdb and reports/ the analysts' modes (:func:`analyst_file_mode`)."""
        file_mode, dir_mode = analyst_file_mode(), analyst_dir_mode()
        if self.analytics_db.is_file():
            self.analytics_db.chmod(file_mode)
        if self.reports.is_dir():
            self.reports.chmod(dir_mode)
            for path in self.reports.iterdir():
                if path.is_file():
                    path.chmod(file_mode)

    def is_demo_landing(self) -> bool:
        """landing/ holds the demo generator's output (its marker, :data:`DEMO_MARKER`)."""
        return (self.landing / DEMO_MARKER).is_file()

    def demo_files(self) -> dict[str, str]:
        """The files the demo marker lists (path relative to landing/ -> SHA-256); empty without one."""
        path = self.landing / DEMO_MARKER
        if not path.is_file():
            return {}
        try:
            files = json.loads(path.read_text(encoding="utf-8")).get(DEMO_MARKER_FILES)
        except (ValueError, AttributeError):
            return {}
        return files if isinstance(files, dict) else {}

    def demo_file_problem(self, paths: Iterable[Path]) -> tuple[Path, str] | None:
        """The first of ``paths`` (landing files about to be loaded) that the demo generator did not write,
        and why: not listed in the demo marker, or content changed since. None: all are the demo's."""
        listed = self.demo_files()
        for path in sorted(paths):
            relative = path.relative_to(self.landing).as_posix()
            expected = listed.get(relative)
            if expected is None:
                return path, f"not listed in landing/{DEMO_MARKER}"
            if file_sha256(path) != expected:
                return path, f"its content differs from what landing/{DEMO_MARKER} lists"
        return None

    def landing_days(self, source: str) -> list[str]:
        """Delivery days present in ``landing/<source>/``, sorted."""
        folder = self.landing / source
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _looks_like_day(p.name))


def _looks_like_day(name: str) -> bool:
    return len(name) == 10 and name[4] == "-" and name[7] == "-" and name.replace("-", "").isdigit()
