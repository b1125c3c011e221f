"""Where things live under the data directory (``FUNDCDP_DATA_DIR``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOURCES = ("trade", "crm", "tracking")


@dataclass(frozen=True)
class DataLayout:
    """Paths of everything the project writes, derived from one absolute data directory."""

    root: Path

    @classmethod
    def at(cls, data_dir: str | Path) -> DataLayout:
        """Layout rooted at ``data_dir``, made absolute (dbt runs from ``dbt_project/``)."""
        return cls(Path(data_dir).expanduser().resolve())

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
        return self.root / "demo_truth"

    def landing_day(self, source: str, day: str) -> Path:
        return self.landing / source / day

    def raw_table(self, source: str, table: str) -> Path:
        return self.raw / source / table

    def raw_partition(self, source: str, table: str, day: str) -> Path:
        return self.raw_table(source, table) / f"arrival_date={day}"

    def ensure(self) -> None:
        """Create the directories the pipeline writes into."""
        for path in (self.landing, self.raw, self.outbox, self.dagster_home, self.gx, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        from orchestration.lib.privacy import ensure_archive  # noqa: PLC0415 - privacy imports this module

        ensure_archive(self)

    def landing_days(self, source: str) -> list[str]:
        """Delivery days present in ``landing/<source>/``, sorted."""
        folder = self.landing / source
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _looks_like_day(p.name))


def _looks_like_day(name: str) -> bool:
    return len(name) == 10 and name[4] == "-" and name[7] == "-" and name.replace("-", "").isdigit()
