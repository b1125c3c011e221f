"""Compile a validated segment rule to SQL, in the dialect of each engine, through an SQL syntax tree.

The membership query is built from sqlglot expressions (columns, literals, IN, CASE…) and rendered by
sqlglot for the engine: no value of a definition is ever formatted into SQL text. Strings become
``exp.Literal.string`` (escaped by the dialect's generator), numbers ``exp.Literal.number`` of a checked
int / float, dates ``CAST('YYYY-MM-DD' AS DATE)`` of a ``date``; relation and column names come from the
catalog (checked to be plain names) and are identifiers. The only SQL text written here is constant: the
two split-hash templates, which take their values as placeholders.

The dialects differ only where the engines do: relation names (on DuckDB the schemas dbt's manifest gives,
:mod:`orchestration.lib.relations`, and ``ml`` for the model tags Python writes; on Spark the databases
``fundcdp_<folder schema>`` dbt names there, and ``fundcdp_ml``), string literal escaping, and SHA-256 /
hex parsing for the experiment split.
Relative dates (``-30d``) and event windows are resolved to literal dates here, from the as-of date, so
the SQL itself carries no date arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from typing import Any

import sqlglot
from pydantic import BaseModel
from sqlglot import exp

from orchestration.defs.ml.store import ML_SCHEMA
from orchestration.defs.segments.definition import (
    RELATIVE_DATE,
    SQL_NAME,
    Catalog,
    Segment,
    children,
    node_kind,
    parse_rule,
    where_items,
)
from orchestration.lib.relations import model_relation
from orchestration.lib.rules import load_business_rules

RISK_LEVELS = {"R1": 1, "R2": 2, "R3": 3, "R4": 4, "R5": 5}
# Tags outside person_profile: the model tags, joined as `model_tags` when a rule names one.
MODEL_TAG_TABLE = "tags_model"
# What a segment query reads as `profile`: person_profile plus customer_no and is_<channel>_consented.
SEGMENT_PERSONS = "segment_persons"
# Persons quarantined by the persons gate (docs/quality.md): every segment excludes them (`quarantined`).
QUARANTINE_TABLE = "person_quarantine"
# The fund products as of the build: a `where:` on a product property (fund_type…) reads it.
FUND_PRODUCTS = "fund_products"
# The events an event condition reads, each with the column its persons are matched by: the sorted narrow
# table carries the integer person_key; int_events_attributed (read for a `where` on event properties)
# has no key, only person_id.
SEGMENT_EVENTS = "int_segment_events"
ATTRIBUTED_EVENTS = "int_events_attributed"
PERSON_COLUMN_OF_EVENTS = {SEGMENT_EVENTS: "person_key", ATTRIBUTED_EVENTS: "person_id"}
# Every relation a compiled segment may read (the guard allows these and nothing else): dbt models, and
# the model tags the model assets write in the schema of their own (ML_SCHEMA).
SEGMENT_RELATIONS = (
    SEGMENT_PERSONS,
    SEGMENT_EVENTS,
    ATTRIBUTED_EVENTS,
    MODEL_TAG_TABLE,
    QUARANTINE_TABLE,
    FUND_PRODUCTS,
)
# Tables of SEGMENT_RELATIONS that Python writes (not dbt models).
PYTHON_TABLES = frozenset({MODEL_TAG_TABLE})
# 0 .. buckets-1 from the first 8 hex digits of sha256(value): identical on both engines.
SPLIT_BUCKET_SQL = {
    "duckdb": "(cast(('0x' || substr(sha256(:value), 1, 8)) as bigint) % :buckets)",
    "spark": "pmod(cast(conv(substr(sha2(:value, 256), 1, 8), 16, 10) as bigint), :buckets)",
}


def referenced_tags(node: Any) -> set[str]:
    """Every tag code a rule tree names."""
    if node_kind(node) == "tag":
        return {node.tag}
    return set().union(set(), *(referenced_tags(child) for child in children(node)))


@dataclass(frozen=True)
class Dialect:
    name: str
    # Spark: the target's schema, which dbt puts before each folder's schema (fundcdp_marts…); DuckDB: the
    # schemas come from the manifest as they are.
    schema_prefix: str = ""

    def schema(self, table: str) -> str:
        """The schema (Spark: database) holding ``table``, one of :data:`SEGMENT_RELATIONS`."""
        if table in PYTHON_TABLES:
            return f"{self.schema_prefix}{ML_SCHEMA}"
        model = model_relation(table)
        if self.name == "duckdb":
            return model.schema
        return f"{self.schema_prefix}{model.custom_schema}"

    def table(self, table: str, alias: str) -> exp.Table:
        return exp.table_(table, db=self.schema(table), alias=alias)

    def string(self, value: str) -> str:
        """``value`` as a string literal of this dialect (rendered by sqlglot)."""
        return exp.Literal.string(value).sql(dialect=self.name)

    def allowed_relations(self) -> frozenset[tuple[str, str]]:
        return frozenset((self.schema(table), table) for table in SEGMENT_RELATIONS)

    def split_bucket(self, value: exp.Expression, buckets: int) -> exp.Expression:
        """0 .. buckets-1 from the first 8 hex digits of sha256(value): identical on both engines."""
        template = sqlglot.parse_one(SPLIT_BUCKET_SQL[self.name], read=self.name)
        return exp.replace_placeholders(template, value=value, buckets=number(buckets))


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark", "fundcdp_")
DIALECTS = {"duckdb": DUCKDB, "spark": SPARK}


def column(table: str, name: str) -> exp.Column:
    return exp.column(name, table=table)


def number(value: int | float) -> exp.Expression:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    text = repr(float(value)) if isinstance(value, float) else str(int(value))
    if value < 0:
        return exp.Neg(this=exp.Literal.number(text[1:]))
    return exp.Literal.number(text)


def string(value: str) -> exp.Literal:
    if not isinstance(value, str):
        raise TypeError(f"not a text: {value!r}")
    return exp.Literal.string(value)


def date_literal(day: date) -> exp.Expression:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("date"))


def resolve_date(value: Any, as_of: date) -> date:
    """A date, an ISO date, or '-30d' (30 days before the as-of date)."""
    if type(value) is date:
        return value
    text = str(value)
    if RELATIVE_DATE.match(text):
        return as_of + timedelta(days=int(text[:-1]))
    return date.fromisoformat(text)


def conjunction(conditions: list[exp.Expression]) -> exp.Expression:
    return reduce(lambda left, right: exp.And(this=left, expression=right), conditions)


def disjunction(conditions: list[exp.Expression]) -> exp.Expression:
    return reduce(lambda left, right: exp.Or(this=left, expression=right), conditions)


def is_null(expression: exp.Expression) -> exp.Expression:
    return exp.Is(this=expression, expression=exp.Null())


def is_not_null(expression: exp.Expression) -> exp.Expression:
    return exp.Not(this=is_null(expression))


COMPARISONS = {"=": exp.EQ, "!=": exp.NEQ, ">=": exp.GTE, "<=": exp.LTE}


class RuleCompiler:
    """Turns a rule tree into a boolean SQL expression over ``profile`` (person_profile) rows."""

    def __init__(self, catalog: Catalog, dialect: Dialect, as_of: date):
        self.catalog, self.dialect, self.as_of = catalog, dialect, as_of

    def literal(self, tag_type: str, value: Any) -> exp.Expression:
        if tag_type == "boolean":
            if not isinstance(value, bool):
                raise TypeError(f"not a flag: {value!r}")
            return exp.Boolean(this=value)
        if tag_type == "number":
            return number(value)
        if tag_type == "date":
            return date_literal(resolve_date(value, self.as_of))
        return string(value)

    def compile(self, node: BaseModel | dict) -> exp.Expression:
        """The rule as a boolean expression (a dict is validated first, as a file's rule is)."""
        if isinstance(node, dict):
            node = parse_rule(node, self.catalog)
        kind = node_kind(node)
        if kind in ("all", "any"):
            combine = conjunction if kind == "all" else disjunction
            return exp.Paren(this=combine([self.compile(child) for child in children(node)]))
        if kind == "not":
            # a condition on a missing value is unknown, and "not unknown" must not select the person
            inner = exp.Coalesce(this=self.compile(node.not_), expressions=[exp.false()])
            return exp.Paren(this=exp.Not(this=inner))
        if kind == "tag":
            return self.tag_condition(node)
        if kind == "event":
            return self.event_condition(node)
        return self.sequence_condition(node)

    def tag_condition(self, node: Any) -> exp.Expression:
        tag = self.catalog.tags[node.tag]
        target = column("model_tags" if tag.table == MODEL_TAG_TABLE else "profile", tag.code)
        operator, value = node.op, node.value
        if operator == "is null":
            return exp.Paren(this=is_null(target))
        if operator == "is not null":
            return exp.Paren(this=is_not_null(target))
        if operator in ("in", "not in"):
            test = exp.In(this=target, expressions=[self.literal(tag.tag_type, item) for item in value])
            return exp.Paren(this=test if operator == "in" else exp.Not(this=test))
        if operator == "between":
            low, high = (self.literal(tag.tag_type, item) for item in value)
            return exp.Paren(this=exp.Between(this=target, low=low, high=high))
        return exp.Paren(
            this=COMPARISONS[operator](this=target, expression=self.literal(tag.tag_type, value))
        )

    def _event_filters(self, alias: str, node: Any) -> list[exp.Expression]:
        """The `where:` filters: an event property on the event's column; the product properties together
        as one ``fund_code in (select fund_code from fund_products where …)`` on the event's fund."""
        filters, product_filters = [], []
        for prop, values in where_items(node):
            kind = self.catalog.where_properties[prop]
            literals = [number(v) if kind == "number" else string(v) for v in values]
            if prop in self.catalog.product_properties:
                product_filters.append(exp.In(this=column("product", prop), expressions=literals))
            else:
                filters.append(exp.In(this=column(alias, prop), expressions=literals))
        if product_filters:
            funds = (
                exp.select(column("product", "fund_code"))
                .from_(self.dialect.table(FUND_PRODUCTS, "product"))
                .where(conjunction(product_filters))
            )
            filters.append(exp.In(this=column(alias, "fund_code"), query=exp.Subquery(this=funds)))
        return filters

    @staticmethod
    def events_table(node: Any) -> str:
        """The events a condition reads: int_segment_events (the columns rules read, sorted by event name
        and day, so only the row groups of the rule's events and window are scanned) unless the condition
        filters on event properties, which only int_events_attributed carries. Both hold the same
        attributed events with a person_id."""
        return ATTRIBUTED_EVENTS if node is not None and where_items(node) else SEGMENT_EVENTS

    def events(self, node: Any, alias: str) -> exp.Table:
        return self.dialect.table(self.events_table(node), alias)

    def _membership(self, node: Any, subquery: exp.Select, key: str) -> exp.Expression:
        """The profile's person in (or not in) the persons the subquery selects by ``key``: person_key,
        an integer, when it reads int_segment_events (a semi join on integers: churn_early_warning's
        preview at SF10 went from 248 to 165 ms against one on 17-character ids); person_id from
        int_events_attributed, which has no integer key."""
        test = exp.In(this=column("profile", key), query=exp.Subquery(this=subquery))
        return exp.Paren(this=test if node.did else exp.Not(this=test))

    def person_column(self, node: Any) -> str:
        """The column a condition matches the persons of the events it reads by (PERSON_COLUMN_OF_EVENTS)."""
        return PERSON_COLUMN_OF_EVENTS[self.events_table(node)]

    def event_condition(self, node: Any) -> exp.Expression:
        since = self.as_of - timedelta(days=node.last_days)
        key = self.person_column(node)
        conditions = [
            is_not_null(column("e", key)),
            exp.EQ(this=column("e", "event_name"), expression=string(node.event)),
            exp.GT(this=column("e", "event_date"), expression=date_literal(since)),
            exp.LTE(this=column("e", "event_date"), expression=date_literal(self.as_of)),
            *self._event_filters("e", node),
        ]
        subquery = exp.select(column("e", key)).from_(self.events(node, "e")).where(conjunction(conditions))
        if node.at_least > 1:
            subquery = subquery.group_by(column("e", key)).having(
                exp.GTE(this=exp.Count(this=exp.Star()), expression=number(node.at_least))
            )
        return self._membership(node, subquery, key)

    def sequence_condition(self, node: Any) -> exp.Expression:
        # `where` filters the first event only
        first, then = node.sequence
        since = self.as_of - timedelta(days=node.last_days)
        window_ms = node.within_days * 86_400_000
        # both events from int_segment_events: joined on the person's integer key (an integer join, not
        # one on 17-character ids); a `where` on the first event reads int_events_attributed, by person_id
        key = self.person_column(node)
        conditions = [
            is_not_null(column("a", key)),
            exp.EQ(this=column("a", "event_name"), expression=string(first)),
            exp.EQ(this=column("b", "event_name"), expression=string(then)),
            exp.GT(this=column("a", "event_date"), expression=date_literal(since)),
            # event_date is the local day of client_time_ms, so b after a is in the window too: the
            # bound lets the scan of b skip the row groups of earlier days (it changes no result)
            exp.GT(this=column("b", "event_date"), expression=date_literal(since)),
            exp.LTE(this=column("b", "event_date"), expression=date_literal(self.as_of)),
            exp.GT(this=column("b", "client_time_ms"), expression=column("a", "client_time_ms")),
            exp.LTE(
                this=column("b", "client_time_ms"),
                expression=exp.Add(this=column("a", "client_time_ms"), expression=number(window_ms)),
            ),
            *self._event_filters("a", node),
        ]
        subquery = (
            exp.select(column("a", key))
            .from_(self.events(node, "a"))
            .join(
                self.events(None, "b"),
                on=exp.EQ(this=column("a", key), expression=column("b", key)),
                join_type="inner",
            )
            .where(conjunction(conditions))
        )
        return self._membership(node, subquery, key)


def segment_query(segment: Segment, catalog: Catalog, dialect: Dialect, as_of: date) -> exp.Select:
    """The membership query as a syntax tree (see :func:`compile_segment`)."""
    if not SQL_NAME.match(segment.name):  # it is in the header comment and the split hash's text
        raise ValueError(f"not a segment name: {segment.name!r}")
    rule = segment.rule if isinstance(segment.rule, BaseModel) else parse_rule(segment.rule, catalog)
    rule_sql = RuleCompiler(catalog, dialect, as_of).compile(rule)
    buckets = load_business_rules()["segments"]["split_buckets"]
    # A quarantined person (an anomaly the persons gate set aside) is in no segment, whatever its purpose;
    # first, so that the exclusion is counted under this reason.
    exclusions: list[tuple[exp.Expression, str]] = [
        (is_not_null(column("quarantine", "person_id")), "quarantined")
    ]
    if segment.purpose == "marketing":
        if segment.channel not in catalog.consent_channels:  # a column name: never anything else
            raise ValueError(f"{segment.name}: channel {segment.channel!r} is not a consent channel")
        consented = exp.Coalesce(
            this=column("profile", f"is_{segment.channel}_consented"), expressions=[exp.false()]
        )
        exclusions.append((exp.EQ(this=consented, expression=exp.false()), "no_consent"))
    if segment.promoted_product_risk:
        level = RISK_LEVELS[segment.promoted_product_risk]
        tolerance = exp.cast(
            exp.Substring(this=column("profile", "risk_level"), start=number(2), length=number(1)),
            exp.DataType.build("int"),
        )
        expires = column("profile", "risk_assessment_expires_on")
        unsuitable = disjunction(
            [
                is_null(column("profile", "risk_level")),
                exp.LT(this=tolerance, expression=number(level)),
                is_null(expires),
                exp.LT(this=expires, expression=date_literal(as_of)),
            ]
        )
        exclusions.append((exp.Paren(this=unsuitable), "unsuitable"))
    exclusions.append((is_null(column("profile", "customer_no")), "no_customer_number"))
    reason = exp.Case(ifs=[exp.If(this=condition, true=string(name)) for condition, name in exclusions])
    hashed = exp.DPipe(this=string(segment.name + ":"), expression=column("profile", "person_id"))
    if segment.split:
        bounds, cumulative = [], 0.0
        for group in ("test", "control", "holdout"):
            if group in segment.split:
                cumulative += segment.split[group]
                bounds.append((round(cumulative * buckets), group))
        # members only: an excluded match is in no group, and the SHA-256 per row is most of a large
        # segment's preview (462k matches of registered_never_invested at SF10: 390 ms of CPU)
        ifs = [exp.If(this=is_not_null(exp.Paren(this=reason.copy())), true=exp.Null())]
        ifs += [
            exp.If(this=exp.LT(this=dialect.split_bucket(hashed.copy(), buckets), expression=number(limit)),
                   true=string(group))
            for limit, group in bounds[:-1]
        ]  # fmt: skip
        split_sql: exp.Expression = exp.Case(ifs=ifs, default=string(bounds[-1][1]))
    else:
        split_sql = exp.cast(exp.Null(), exp.DataType.build("varchar"))
    query = exp.select(
        *(
            column("profile", name)
            for name in ("person_id", "customer_no", "lifecycle_stage", "value_tier", "main_platform")
        ),
        exp.alias_(reason, "exclusion_reason"),
        exp.alias_(split_sql, "split_group"),
    ).from_(dialect.table(SEGMENT_PERSONS, "profile"))  # fmt: skip
    # one row per quarantined person (the table has one per reason); a left join, as Spark allows an IN
    # subquery only in a filter, not in the CASE of the exclusion reason
    quarantined = (
        exp.select(column("q", "person_id"))
        .from_(dialect.table(QUARANTINE_TABLE, "q"))
        .group_by(column("q", "person_id"))
    )
    query = query.join(
        exp.Subquery(this=quarantined, alias=exp.TableAlias(this=exp.to_identifier("quarantine"))),
        on=exp.EQ(this=column("quarantine", "person_id"), expression=column("profile", "person_id")),
        join_type="left",
    )
    if any(catalog.tags[code].table == MODEL_TAG_TABLE for code in referenced_tags(rule)):
        query = query.join(
            dialect.table(MODEL_TAG_TABLE, "model_tags"),
            on=exp.EQ(this=column("model_tags", "person_id"), expression=column("profile", "person_id")),
            join_type="left",
        )
    return query.where(rule_sql)


def compile_segment(segment: Segment, catalog: Catalog, dialect: Dialect, as_of: date) -> str:
    """The full membership query: every person matching the rule, with why a match is excluded
    (quarantined by the persons gate, no consent for the channel, unsuitable for the promoted product,
    no customer number to export)
    and a member's experiment group (null for an excluded match). Columns: person_id, customer_no,
    lifecycle_stage, value_tier, main_platform, exclusion_reason, split_group.

    It reads ``segment_persons`` (the profile with the customer number and consent per channel
    joined in by dbt) as ``profile``: no join but to the model tags a rule names. The rule is the bare
    WHERE clause (a null condition drops the row as false would), so DuckDB pushes tag conditions into
    the scan and turns event conditions into semi joins whose probe side is filtered by the matches."""
    query = segment_query(segment, catalog, dialect, as_of)
    # the header holds only a checked name (SQL_NAME), an ISO date and a dialect name
    header = f"-- segment {segment.name} as of {as_of.isoformat()} ({dialect.name})\n"
    return header + query.sql(dialect=dialect.name, pretty=True) + "\n"
