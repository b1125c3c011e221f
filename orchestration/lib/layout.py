"""Where things live under the data directory (``FUNDCDP_DATA_DIR``), and who may read it.

Everything the pipeline writes is the owner's only: folders 0700, files 0600, whatever the umask it was
started with (every entry point calls :func:`restrict_umask`; dbt and the demo generator inherit it).
The one exception is what analysts read — ``analytics.duckdb`` and ``reports/`` — which is 0640 (folders
0750, the data directory included so that the group can reach them) when
``FUNDCDP_ANALYTICS_GROUP_READABLE`` says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("trade", "crm", "tracking")

# Written by the demo generator into landing/: without FUNDCDP_HASH_KEY only a landing carrying it loads.
DEMO_MARKER = "DEMO_SOURCES.json"
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
        from orchestration.lib.privacy import ensure_archive  # noqa: PLC0415 - privacy imports this module

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

    def landing_days(self, source: str) -> list[str]:
        """Delivery days present in ``landing/<source>/``, sorted."""
        folder = self.landing / source
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _looks_like_day(p.name))


def _looks_like_day(name: str) -> bool:
    return len(name) == 10 and name[4] == "-" and name[7] == "-" and name.replace("-", "").isdigit()
