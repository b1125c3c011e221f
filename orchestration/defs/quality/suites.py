"""The Great Expectations suites under ``expectations/`` and the metric frames they validate.

Each suite ``expectations/<name>.json`` guards one asset (``meta.guards``, e.g. ``marts/person_profile``)
and validates the frame returned by its metric query ``expectations/metrics/<name>.sql``: a DuckDB query
(Jinja-rendered; ``$as_of_date`` bound to the partition date and the ``$quality_*`` parameters of
:func:`metric_parameters` to the rules under ``vars: fundcdp: quality:``) computing per-partition rows or
aggregates in SQL, so that GX (through pandas) never loads a large table and never sees personal values.

A metric query names dbt models bare (``from person_profile``): :func:`qualified_metric_sql` parses it
with sqlglot and puts each model's schema (from dbt's manifest, :mod:`orchestration.lib.relations`) on its
table node, so no schema name is written in the queries and none is formatted into SQL text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import jinja2
import sqlglot
from sqlglot import exp

from orchestration.lib.paths import EXPECTATIONS_DIR
from orchestration.lib.relations import UnknownModelError, model_relation
from orchestration.lib.rules import load_business_rules

_PARAMETER = re.compile(r"\$(\w+)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def metric_parameters(rules: dict | None = None) -> dict[str, object]:
    """The values a metric query may bind, from ``vars: fundcdp: quality:`` (``rules``: the business
    rules, default the dbt project's), checked for type: lists of text, numbers or dates only, never SQL
    text.

    ``$quality_sources``: the configured sources (systems or ``system.table``), empty for ``auto``
    (detected: a table with rows loaded); ``$quality_floor_tags`` / ``$quality_floor_values``: the
    coverage floors; ``$quality_history_loads``, ``$quality_min_history_loads``,
    ``$quality_max_change_factor``: the volume rule; ``$quality_non_trading_days``: the exchange closures
    of the freshness rule (:func:`non_trading_days`), bound as a DATE list;
    ``$quality_max_quarantined_free_persons``: quarantined persons the persons gate's share leaves free.

    Raises:
        ValueError: naming the setting and the value that does not fit.
    """
    quality = (rules or load_business_rules())["quality"]
    sources = quality["sources"]
    if sources == "auto":
        sources = []
    if not isinstance(sources, list) or not all(isinstance(item, str) and item for item in sources):
        raise ValueError(
            f'vars: fundcdp: quality: sources must be "auto" or a list of names, not {sources!r}'
        )
    floors = quality["tag_coverage"]["floors"]
    for tag, floor in floors.items():
        if not isinstance(floor, int | float) or not 0 <= floor <= 1:
            raise ValueError(
                f"vars: fundcdp: quality: tag_coverage: floors: {tag} must be 0-1, not {floor!r}"
            )
    volume = quality["freshness_and_volume"]
    return {
        "quality_sources": [str(item) for item in sources],
        "quality_floor_tags": [str(tag) for tag in floors],
        "quality_floor_values": [float(floor) for floor in floors.values()],
        "quality_history_loads": int(volume["history_loads"]),
        "quality_min_history_loads": int(volume["min_history_loads"]),
        "quality_max_change_factor": float(volume["max_change_factor"]),
        "quality_non_trading_days": non_trading_days(volume.get("non_trading_days")),
        "quality_max_quarantined_free_persons": int(quality["persons"]["max_quarantined_free_persons"]),
    }


def non_trading_days(configured: object) -> list[date]:
    """``vars: fundcdp: quality: freshness_and_volume: non_trading_days`` as sorted unique dates: a list of
    ``YYYY-MM-DD`` texts (or YAML dates); missing or empty means every weekday trades.

    Raises:
        ValueError: naming the setting and the first entry that is not a ``YYYY-MM-DD`` calendar date.
    """
    setting = "vars: fundcdp: quality: freshness_and_volume: non_trading_days"
    if configured is None:
        return []
    if not isinstance(configured, list):
        raise ValueError(f"{setting} must be a list of YYYY-MM-DD dates, not {configured!r}")
    days = set()
    for position, entry in enumerate(configured, start=1):
        if isinstance(entry, date) and not isinstance(entry, datetime):
            days.add(entry)
            continue
        try:
            if not isinstance(entry, str) or not _ISO_DATE.fullmatch(entry):
                raise ValueError("not YYYY-MM-DD")
            days.add(date.fromisoformat(entry))
        except ValueError:
            raise ValueError(f"{setting}: entry {position} is not a YYYY-MM-DD date: {entry!r}") from None
    return sorted(days)


def qualified_metric_sql(sql: str, source: Path | str, resolve=model_relation) -> str:
    """The DuckDB query ``sql`` with every bare table name that is not one of its CTEs replaced, in its
    sqlglot syntax tree, by the dbt model's relation (``resolve``: model name -> ModelRelation, default
    from the manifest). A table already naming its schema is left as written.

    Raises:
        ValueError: naming ``source`` and the model when a table is no dbt model (or the SQL does not
            parse).
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as problem:
        raise ValueError(f"{source}: not a query sqlglot can read: {problem}") from problem
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}

    def qualify(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or node.args.get("db") or not node.name or node.name in ctes:
            return node
        try:
            model = resolve(node.name)
        except UnknownModelError as problem:
            raise ValueError(f"{source}: table {node.name!r} is no dbt model: {problem}") from None
        qualified = model.table()
        if node.args.get("alias") is not None:
            qualified.set("alias", node.args["alias"].copy())
        return qualified

    return tree.transform(qualify).sql(dialect="duckdb", pretty=True)


def metric_frame(warehouse_db: Path, suite: Suite, as_of_date: str, rules: dict | None = None):
    """The suite's metric query run read-only against the warehouse, as a pandas DataFrame (``rules``:
    the business rules its ``$quality_*`` parameters come from, default the dbt project's)."""
    rendered = jinja2.Template(suite.metric_query.read_text()).render()
    sql = qualified_metric_sql(rendered, suite.metric_query)
    available = {"as_of_date": as_of_date, **metric_parameters(rules)}
    used = set(_PARAMETER.findall(sql))
    unknown = sorted(used - set(available))
    if unknown:
        raise ValueError(f"{suite.metric_query}: unknown parameters {unknown}")
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        return con.execute(sql, {name: available[name] for name in used} or None).df()
    finally:
        con.close()
