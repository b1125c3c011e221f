"""Dashboard boards: one YAML file each (SQL over ``analytics.duckdb`` plus a small chart spec), read by the
dashboard app (``make dashboards``, :mod:`orchestration.dashboards.app`) and by the daily HTML report
(:mod:`orchestration.defs.publish.report`) alike.

The built-in boards ship in ``dashboards/builtin/``; an analyst adds a board by dropping one file into
``dashboards/`` (``FUNDCDP_DASHBOARDS_DIR``), without touching Python, and checks it with
``python -m orchestration.cli dashboards validate``. docs/dashboards.md describes the format.

A board's SQL is the analyst's own, so it is checked and confined rather than built:

- :func:`check_board_sql`: exactly one SELECT (DuckDB's parser types the statements, sqlglot parses the
  query), reading only the tables published in ``analytics.duckdb`` and its own CTEs; no table function
  (``read_csv``…), no other catalog or schema;
- :func:`board_connection`: every query runs on a read-only connection with external access disabled,
  so even a query the checks missed can neither write nor read a file; the analytics file holds no
  personal data in the clear (published ids, k-anonymous quasi-identifiers: docs/security.md).

Charts are Vega-Lite specs (:func:`vega_lite`): the app draws them with Streamlit's bundled Vega, the
report turns them into inline SVG with vl-convert; neither loads anything from the network.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import sqlglot
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from orchestration.defs.publish.analytics import PUBLISHED_TABLES, SEGMENT_TABLES, SUMMARY_TABLES
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.sql import duckdb_statement_types

BUILTIN_DIR = PROJECT_ROOT / "dashboards" / "builtin"
LANGUAGES = ("en", "zh")
# Tables of analytics.duckdb a board may read: the published warehouse tables and the ones the publish step
# writes itself (quality results, segment versions and diffs, experiments, the publish's own records).
BOARD_TABLES = frozenset(
    {
        *PUBLISHED_TABLES,
        *SEGMENT_TABLES,
        "dq_results",
        "experiment_results",
        "publish_privacy",
        *SUMMARY_TABLES,
    }
)
MAX_ROWS = 5_000  # rows a panel draws; a query returning more is cut there and says so

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class BoardError(ValueError):
    """A board file problem: the file, the path inside it, the reason."""

    def __init__(self, file: Path | str, path: str, reason: str):
        self.file, self.path, self.reason = str(file), path, reason
        super().__init__(f"{file}: {path}: {reason}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A label in both languages; a board may give one plain string, used for both."""

    en: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    zh: Annotated[str, StringConstraints(min_length=1, max_length=300)]

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, data: Any) -> Any:
        return {"en": data, "zh": data} if isinstance(data, str) else data

    def __call__(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


class Chart(_Model):
    """What a panel draws from its query's columns.

    - ``bar`` / ``line`` / ``area``: ``x`` against ``y``, one series per ``color`` value (stacked bars
      with ``stack``; ``horizontal`` puts the categories on the vertical axis);
    - ``heatmap``: ``x`` by ``y`` cells shaded by ``value`` and labelled with it;
    - ``metric``: the first row's ``value``, with the change against ``previous`` when given;
    - ``table``: the rows as they are.

    ``order`` fixes the order of the category axis's values (the funnel's steps); ``percent`` lists the
    columns holding shares (0-1), shown as percentages.
    """

    kind: Literal["bar", "line", "area", "heatmap", "metric", "table"]
    x: str | None = None
    y: str | None = None
    color: str | None = None
    value: str | None = None
    previous: str | None = None
    stack: bool = False
    horizontal: bool = False
    order: list[str] = Field(default_factory=list, max_length=100)
    percent: list[str] = Field(default_factory=list, max_length=50)
    # colours of category values (``loaded: "#2e7d32"``), in ``order`` where it lists them
    colors: dict[str, Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]] = Field(
        default_factory=dict, max_length=50
    )

    @model_validator(mode="after")
    def _fields(self) -> Chart:
        needs = {
            "bar": ("x", "y"),
            "line": ("x", "y"),
            "area": ("x", "y"),
            "heatmap": ("x", "y", "value"),
            "metric": ("value",),
            "table": (),
        }[self.kind]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} chart needs {', '.join(missing)}")
        return self

    def columns(self) -> list[str]:
        """The query columns the chart names."""
        named = (self.x, self.y, self.color, self.value, self.previous, *self.percent)
        return [name for name in named if name is not None]


class Panel(_Model):
    id: Slug
    title: Text
    sql: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    chart: Chart
    note: Text | None = None
    # titles of the query's columns (axis and table headers); a column named after a tag takes the tag
    # catalog's name, any other its own name
    labels: dict[str, Text] = Field(default_factory=dict, max_length=100)


class Board(_Model):
    id: Slug
    title: Text
    description: Text | None = None
    # the board is a section of the daily HTML report
    report: bool = False
    position: int = 100
    panels: list[Panel] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _unique_panels(self) -> Board:
        seen: set[str] = set()
        for panel in self.panels:
            if panel.id in seen:
                raise ValueError(f"two panels are called {panel.id}")
            seen.add(panel.id)
        return self


@dataclass(frozen=True)
class BoardFile:
    path: Path
    board: Board
    builtin: bool


def custom_dir() -> Path:
    """Where analysts' boards live: ``FUNDCDP_DASHBOARDS_DIR``, default ``dashboards/`` of the checkout."""
    return Path(os.environ.get("FUNDCDP_DASHBOARDS_DIR") or PROJECT_ROOT / "dashboards")


def board_files(directories: Iterable[Path] | None = None) -> list[Path]:
    """The board files: ``*.yaml`` / ``*.yml`` of the built-in folder, then of the analysts' folder."""
    directories = [BUILTIN_DIR, custom_dir()] if directories is None else list(directories)
    found: list[Path] = []
    for directory in directories:
        if directory.is_dir():
            found.extend(
                sorted(
                    p
                    for p in directory.iterdir()
                    if p.suffix in (".yaml", ".yml") and not p.name.startswith(("_", "."))
                )
            )
    return found


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-")) or "(file)"


def load_board(path: Path) -> Board:
    """The board of one file, every field, query and chart checked (:class:`BoardError` otherwise)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as problem:
        raise BoardError(path, "(file)", f"not readable YAML: {str(problem).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise BoardError(path, "(file)", "a board file is a mapping (id, title, panels)")
    try:
        board = Board.model_validate(data)
    except ValidationError as problem:
        first = problem.errors()[0]
        raise BoardError(path, _location(first["loc"]), first["msg"]) from None
    if board.id != path.stem:
        raise BoardError(path, "id", f"the board's id ({board.id}) must be the file's name ({path.stem})")
    for index, panel in enumerate(board.panels):
        where = f"panels.{index}.sql"
        try:
            outputs = check_board_sql(panel.sql)
        except BoardSQLRefused as problem:
            raise BoardError(path, where, problem.reason) from None
        if outputs is not None:
            unknown = [c for c in panel.chart.columns() if c not in outputs]
            if unknown:
                raise BoardError(
                    path,
                    f"panels.{index}.chart",
                    f"names {', '.join(unknown)}, which the query does not return ({', '.join(outputs)})",
                )
    return board


def load_boards(directories: Iterable[Path] | None = None) -> tuple[list[BoardFile], list[BoardError]]:
    """Every valid board, by position then id, and the problems of the invalid files (each stops only
    itself). Two files with one id: the second is refused."""
    directories = [BUILTIN_DIR, custom_dir()] if directories is None else list(directories)
    boards: list[BoardFile] = []
    problems: list[BoardError] = []
    for path in board_files(directories):
        try:
            board = load_board(path)
        except BoardError as problem:
            problems.append(problem)
            continue
        if any(known.board.id == board.id for known in boards):
            problems.append(BoardError(path, "id", f"another board is already called {board.id}"))
            continue
        boards.append(BoardFile(path, board, path.parent.resolve() == BUILTIN_DIR.resolve()))
    boards.sort(key=lambda f: (f.board.position, f.board.id))
    return boards, problems


class BoardSQLRefused(ValueError):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def check_board_sql(sql: str) -> list[str] | None:
    """Refuse (:class:`BoardSQLRefused`) anything but one SELECT over the published tables; the names of
    its output columns when they are all named (``None`` when a ``*`` leaves them to the database)."""
    if "\x00" in sql:
        raise BoardSQLRefused("the query holds a NUL character")
    try:
        statements = duckdb_statement_types(sql)
    except duckdb.Error as problem:
        raise BoardSQLRefused(f"does not parse: {str(problem).splitlines()[0][:200]}") from None
    if len(statements) != 1:
        raise BoardSQLRefused(f"{len(statements)} statements, not exactly one SELECT")
    if statements[0] != "SELECT":
        raise BoardSQLRefused(f"not a SELECT but {statements[0]}")
    try:
        query = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError as problem:
        raise BoardSQLRefused(f"does not parse: {str(problem).splitlines()[0][:200]}") from None
    if not isinstance(query, exp.Query):
        raise BoardSQLRefused(f"not a SELECT but {query.key.upper()}")
    for table in query.find_all(exp.Table):
        if isinstance(table.this, exp.Func) or not isinstance(table.this, exp.Identifier):
            raise BoardSQLRefused(f"reads {table.sql(dialect='duckdb')}: a board reads published tables only")
    try:
        scopes = traverse_scope(query)
    except sqlglot.errors.SqlglotError as problem:
        raise BoardSQLRefused(f"cannot tell what it reads: {str(problem).splitlines()[0][:200]}") from None
    # each scope's sources as SQL resolves them: a name its own CTE defines is that CTE, any other a table
    for scope in scopes:
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue
            if source.args.get("catalog") or (source.db and source.db.lower() != "main"):
                raise BoardSQLRefused(
                    f"reads {source.sql(dialect='duckdb')}: only the main schema is published"
                )
            if source.name.lower() not in BOARD_TABLES:
                raise BoardSQLRefused(f"reads {source.name}, which analytics.duckdb does not publish")
    for function in query.find_all(exp.Func):
        name = (function.name if isinstance(function, exp.Anonymous) else function.sql_name()).lower()
        if name.startswith(("read_", "glob", "query", "getenv", "sniff_")):
            raise BoardSQLRefused(f"calls {name}(), which reads outside the published tables")
    if not isinstance(query, exp.Select):
        return None  # a set operation: its columns are its first branch's, left to the database
    names = []
    for column in query.expressions:
        if isinstance(column, exp.Star) or (isinstance(column, exp.Column) and column.is_star):
            return None
        if not isinstance(column, exp.Alias | exp.Column):
            return None  # an unnamed expression: DuckDB names it, not sqlglot
        names.append(column.alias_or_name)
    return names


QUERY_SECONDS = 30  # a panel's query is interrupted after this long (a runaway recursive CTE)


def board_connection(analytics_db: Path) -> duckdb.DuckDBPyConnection:
    """A connection for boards: read-only, no file or network access beyond the analytics file itself, a
    memory limit, and a configuration no query can change."""
    config = {"enable_external_access": False, "memory_limit": "2GB", "lock_configuration": True}
    return duckdb.connect(str(analytics_db), read_only=True, config=config)


@dataclass(frozen=True)
class PanelData:
    columns: list[str]
    rows: list[tuple]
    truncated: bool = False
    error: str | None = None

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, (_plain(v) for v in row), strict=True)) for row in self.rows]


def _plain(value: Any) -> Any:
    """A value as Vega-Lite and JSON take it: dates as ISO text, decimals as floats, NaN as null."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # intervals, UUIDs, times, lists, structs: as text


def run_panel(con: duckdb.DuckDBPyConnection, panel: Panel, seconds: float = QUERY_SECONDS) -> PanelData:
    """The panel's rows (at most :data:`MAX_ROWS`), or the database's message when the query fails on this
    file (a table of a newer publish, a column renamed) or runs past ``seconds``: the board shows it in
    place of the chart."""
    fired = threading.Event()
    timer = threading.Timer(seconds, lambda: (fired.set(), con.interrupt()))
    try:
        check_board_sql(panel.sql)
        timer.start()
        result = con.execute(panel.sql)
        columns = [d[0] for d in result.description]
        rows = result.fetchmany(MAX_ROWS + 1)
    except (duckdb.Error, BoardSQLRefused) as problem:
        reason = f"interrupted after {seconds:g} s" if fired.is_set() else str(problem).splitlines()[0][:300]
        return PanelData([], [], error=reason)
    finally:
        timer.cancel()
    return PanelData(columns, rows[:MAX_ROWS], truncated=len(rows) > MAX_ROWS)


class Glossary:
    """Labels in both languages: of columns (the board's own, then the tag catalog's tag names, then the
    shared glossary ``dashboards/builtin/_glossary.yaml``) and of category values (the glossary)."""

    def __init__(self, terms: dict[str, Text], tags: dict[str, Text]):
        self.terms, self.tags = terms, tags

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection | None = None) -> Glossary:
        raw = yaml.safe_load((BUILTIN_DIR / "_glossary.yaml").read_text(encoding="utf-8")) or {}
        terms = {str(k): Text.model_validate(v) for k, v in raw.items()}
        tags: dict[str, Text] = {}
        if con is not None:
            try:
                rows = con.execute("select tag_code, name_en, name_zh from tag_catalog").fetchall()
            except duckdb.Error:
                rows = []
            tags = {code: Text(en=en, zh=zh) for code, en, zh in rows if en and zh}
        return cls(terms, tags)

    def column(self, panel: Panel, column: str, language: str) -> str:
        if column in panel.labels:
            return panel.labels[column](language)
        if column in self.tags:
            return self.tags[column](language)
        if column in self.terms:
            return self.terms[column](language)
        return column.replace("_", " ")

    def value(self, value: Any, language: str) -> Any:
        if isinstance(value, str) and value in self.terms:
            return self.terms[value](language)
        return value


def _is_number(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)


def _is_temporal(name: str, values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[\d:.]+)?", v) for v in present
    )


def translated(panel: Panel, data: PanelData, glossary: Glossary, language: str) -> list[dict[str, Any]]:
    """The rows with their category values in ``language`` (numbers and dates as they are)."""
    return [{k: glossary.value(v, language) for k, v in record.items()} for record in data.records()]


def vega_lite(
    panel: Panel, data: PanelData, glossary: Glossary, language: str, width: int | str = 640
) -> dict[str, Any] | None:
    """The panel's chart as a Vega-Lite spec with its rows inline (``None`` for tables and metrics)."""
    chart = panel.chart
    if chart.kind in ("table", "metric"):
        return None
    records = translated(panel, data, glossary, language)
    order = [glossary.value(v, language) for v in chart.order]

    def channel(name: str, role: str) -> dict[str, Any]:
        values = [r.get(name) for r in records]
        if _is_number(values) and not (role in ("x", "y") and chart.kind == "heatmap"):
            kind = "quantitative"
        elif _is_temporal(name, values) and chart.kind in ("line", "area", "bar") and role == "x":
            kind = "temporal"
        else:
            kind = "ordinal" if chart.kind == "heatmap" else "nominal"
        encoding: dict[str, Any] = {
            "field": name,
            "type": kind,
            "title": glossary.column(panel, name, language),
        }
        if kind == "quantitative" and name in chart.percent:
            encoding["axis" if role in ("x", "y") else "legend"] = {"format": ".0%"}
        if kind in ("nominal", "ordinal") and order:
            encoding["sort"] = order
        if kind in ("nominal", "ordinal") and len(set(values)) > 30 and role in ("x", "y"):
            encoding["axis"] = {"labelOverlap": "greedy", "labelAngle": -45 if role == "x" else 0}
        return encoding

    category, measure = ("y", "x") if chart.horizontal else ("x", "y")
    spec: dict[str, Any] = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": records},
        "width": width,
        "config": {
            "font": '-apple-system, "Segoe UI", "PingFang SC", "Noto Sans CJK SC", sans-serif',
            "view": {"stroke": None},
        },
    }
    if chart.kind == "heatmap":
        x, y, value = channel(chart.x, "x"), channel(chart.y, "y"), channel(chart.value, "value")
        spec["encoding"] = {"x": x, "y": y, "tooltip": [x, y, value]}
        if value["type"] != "quantitative":  # categories (a status per day): one colour each, no text
            spec["mark"] = "rect"
            spec["encoding"]["color"] = {**value, "scale": _category_scale(chart, glossary, language)}
            return spec
        value_format = ".0%" if chart.value in chart.percent else ",.0f"
        spec["layer"] = [
            {
                "mark": "rect",
                "encoding": {"color": {**value, "scale": {"scheme": "blues"}}},
            },
            {
                "mark": {"type": "text", "fontSize": 11},
                "encoding": {
                    "text": {"field": chart.value, "type": "quantitative", "format": value_format},
                    "color": {"value": "#1f2933"},
                },
            },
        ]
        return spec
    encoding = {
        category: channel(chart.x, category),
        measure: channel(chart.y, measure),
    }
    if chart.kind == "bar" and not order and encoding[category]["type"] == "nominal":
        encoding[category]["sort"] = f"-{measure}"  # categories by their measure, largest first
    if chart.color:
        encoding["color"] = channel(chart.color, "color")
        if chart.kind == "bar" and not chart.stack:
            encoding["xOffset" if not chart.horizontal else "yOffset"] = {"field": chart.color}
        if chart.colors:
            encoding["color"]["scale"] = _category_scale(chart, glossary, language)
    encoding["tooltip"] = [channel(c, "tooltip") for c in dict.fromkeys(chart.columns())]
    mark: dict[str, Any] = {"type": chart.kind}
    if chart.kind == "line":
        mark["point"] = True
    spec["mark"] = mark
    spec["encoding"] = encoding
    return spec


def _category_scale(chart: Chart, glossary: Glossary, language: str) -> dict[str, Any]:
    """The colours of ``chart.colors`` by the values as shown (translated), in ``order`` first."""
    values = [v for v in chart.order if v in chart.colors] + [v for v in chart.colors if v not in chart.order]
    if not values:
        return {}
    return {
        "domain": [glossary.value(v, language) for v in values],
        "range": [chart.colors[v] for v in values],
    }


def metric(panel: Panel, data: PanelData) -> tuple[Any, Any]:
    """A metric panel's value and its change against ``previous`` (``None`` without one)."""
    if not data.rows:
        return None, None
    record = data.records()[0]
    value = record.get(panel.chart.value)
    previous = record.get(panel.chart.previous) if panel.chart.previous else None
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, previous))
    if not numbers:
        return value, None
    return value, value - previous


def format_value(value: Any, percent: bool = False) -> str:
    if value is None:
        return "–"
    if percent and isinstance(value, int | float):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 and not value.is_integer() else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
