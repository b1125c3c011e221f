"""The Great Expectations suites under ``expectations/`` and the metric frames they validate.

Each suite ``expectations/<name>.json`` guards one asset (``meta.guards``, e.g. ``marts/person_profile``)
and validates the frame returned by its metric query ``expectations/metrics/<name>.sql``: a DuckDB query
(Jinja-rendered, ``$as_of_date`` bound to the partition date) computing per-partition rows or
aggregates in SQL, so that GX (through pandas) never loads a large table and never sees personal values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2

from orchestration.paths import EXPECTATIONS_DIR


@dataclass(frozen=True)
class Suite:
    """One committed suite and what it guards."""

    name: str
    path: Path
    guards: tuple[str, ...]
    description: str
    metric_query: Path

    @property
    def asset_path(self) -> list[str]:
        return list(self.guards)


def discover_suites(directory: Path = EXPECTATIONS_DIR) -> list[Suite]:
    """Every suite JSON in ``directory``, sorted by name; a suite without its metric query is an error."""
    suites = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text())
            meta = document["meta"]
            suite = Suite(
                name=document["name"],
                path=path,
                guards=tuple(meta["guards"].split("/")),
                description=meta.get("description", ""),
                metric_query=directory / meta["metric_query"],
            )
        except (json.JSONDecodeError, KeyError, AttributeError) as problem:
            raise ValueError(
                f"{path}: not a fundcdp suite (name, meta.guards, meta.metric_query): {problem}"
            ) from problem
        if suite.name != path.stem:
            raise ValueError(f"{path}: suite name {suite.name!r} differs from the file name")
        if not suite.metric_query.exists():
            raise ValueError(f"{path}: metric query {suite.metric_query} does not exist")
        suites.append(suite)
    return suites


def metric_frame(warehouse_db: Path, suite: Suite, as_of_date: str):
    """The suite's metric query run read-only against the warehouse, as a pandas DataFrame."""
    sql = jinja2.Template(suite.metric_query.read_text()).render()
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        parameters = {"as_of_date": as_of_date} if "$as_of_date" in sql else None
        return con.execute(sql, parameters).df()
    finally:
        con.close()
