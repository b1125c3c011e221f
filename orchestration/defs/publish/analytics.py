"""The publish step: analyst-facing tables copied to a fresh DuckDB file swapped in atomically.

``analytics.duckdb`` is written as a new temporary file next to it and ``os.replace``-d over the old
one: an analyst holding a connection keeps a consistent old view, a new connection sees the new data,
analysts never block the pipeline (they never open the warehouse), and a failure leaves the previous file
untouched.

Analysts are not trusted with anything that leads back to a person (see docs/security.md). On the way
into the file every table goes through one column policy (:func:`published_select`):

- **person ids** (``person_id``, ``old_person_id``, ``new_person_id``…) are replaced by published ids,
  keyed with a secret that only ``private.duckdb`` holds and remembered there
  (:mod:`orchestration.defs.privacy.pseudonyms`), and record ids
  built from them (``sessions.session_id``) are rebuilt from the published id;
- **identifiers are dropped**: customer numbers, fund accounts, login ids, devices, hashes, the identity
  anchor, and the birth date with what reveals it (``age``, ``days_until_birthday``); so are exact dates
  that single out a person with gender and birth year: ``account_age_days`` is not published and
  ``registration_date`` is truncated to its month (the first day of the month);
- **quasi-identifiers** (gender, birth year, city) are published k-anonymous
  (:mod:`orchestration.defs.privacy.quasi_identifiers`), in the wide tables and in the long forms
  (``person_tags``, ``tag_history``) alike; what was generalised is recorded in ``publish_privacy``;
- **row order says nothing**: every table with a person column is written ordered by its published ids
  (then by every other column), never in the warehouse's order, which follows warehouse person ids;
- ``tag_catalog`` and ``tag_coverage`` list the tags analysts get: ``birth_year`` instead of
  ``birth_date``, no ``age``, ``days_until_birthday`` or ``account_age_days``.

Segment exports (outbox/, segments.duckdb) are for marketing and keep the customer number and the
experiment group; analysts get members without either (``split_group`` derives from the warehouse person
id) and the experiment's results in ``experiment_results``.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.defs.ingest.completeness import LedgerDay
from orchestration.defs.ml import store as ml_store
from orchestration.defs.privacy import pseudonyms, quasi_identifiers
from orchestration.lib.failpoints import crash_if_armed
from orchestration.lib.layout import analyst_file_mode
from orchestration.lib.relations import model_relation
from orchestration.lib.sql import quote_identifier, quote_literal

# Tables of the warehouse published to analysts, in the file's main schema: dbt models (where the manifest
# puts them) and the model assets' tables (their own schema, ml_store.ML_SCHEMA), under the same names.
PUBLISHED_TABLES = (
    "persons",
    "identity_changes",
    # persons the persons gate quarantined (left out of segments), for the stewards: published ids only
    "person_quarantine",
    "tags_basic",
    "tags_account",
    "tags_business",
    "tags_activity",
    "tags_value",
    "person_profile",
    "person_tags",
    "tag_catalog",
    "tag_coverage",
    "tag_history",
    "lifecycle_transitions",
    "funnel_persons",
    "funnel_daily",
    "channel_attribution",
    "sessions",
    "page_transitions",
    "page_paths",
    "retention_weekly",
    "lifecycle_daily",
    "lifecycle_transitions_monthly",
    # the fund products as of the build (no personal data): what a segment's product filters mean
    "fund_products",
    # written by the model assets (orchestration/defs/ml/store.py)
    "tags_model",
    "model_runs",
    "model_evaluations",
    "behaviour_clusters",
)

# Columns never published: identifiers analysts could look up or recompute, the identity anchor, and the
# birth date with the tags that give it back (age and days until the birthday, with the as-of date).
DROPPED_COLUMNS = frozenset(
    {
        "customer_no",
        "fund_account_id",
        "login_id",
        "login_key",
        "anonymous_id",
        "device_id",
        "wx_openid",
        "wx_unionid",
        "anchor_type",
        "anchor_hash",
        "identifier_hash",
        "birth_date",
        "age",
        "days_until_birthday",
        "account_age_days",
        # who approved a blocked segment version and why (free text) stay in segments.duckdb
        "approved_by",
        "approval_reason",
    }
)
# Record ids built from a person id: rebuilt from the published id (column -> expression over ``src``).
RECORD_IDS = {
    "session_id": "{person} || '-' || cast(src.session_number as varchar)",
}
# Columns the publish step adds (in place of birth_date), described here since no dbt model has them.
ADDED_COLUMNS = {
    "birth_year": "year of birth; null where generalised to the band or suppressed (k-anonymity)",
    "birth_year_band": "five-year band of the birth year (e.g. 1985-1989); null where suppressed",
}
# Quasi-identifier columns of the wide tables, taken from the k-anonymous per-person values.
QUASI_IDENTIFIER_COLUMNS = ("gender", "age_band", "province", "city")
# Exact dates published to the month: the first day of the month (wide column, and its long-form tag).
MONTH_COLUMNS = ("registration_date",)
# Tag codes of the long forms (person_tags, tag_history) that are quasi-identifiers, reveal the birth date
# or are published to the month; no earlier value of them is published.
LONG_FORM_VALUES = {
    "gender": "q.gender",
    "age_band": "q.age_band",
    "province": "q.province",
    "city": "q.city",
    "birth_date": "cast(q.birth_year as varchar)",  # published as tag birth_year
    **{
        code: "cast(cast(date_trunc('month', try_cast(src.tag_value as date)) as date) as varchar)"
        for code in MONTH_COLUMNS
    },
}
LONG_FORM_DROPPED = ("age", "days_until_birthday", "account_age_days")
# tag_catalog / tag_coverage: the rows of tags analysts do not get, and what birth_date becomes.
CATALOG_DROPPED = LONG_FORM_DROPPED
CATALOG_BIRTH_YEAR = {
    "tag_code": "birth_year",
    "name_en": "Birth year",
    "name_zh": "出生年份",
    "tag_type": "number",
    "unit": "year",
    "definition": "Year of the CRM birth date or of the one encoded in the ID number; null where "
    "generalised to birth_year_band or suppressed (k-anonymity)",
}
CATALOG_MONTH_NOTE = " (published: the first day of its month)"


class PublishError(RuntimeError):
    """Publishing failed; the previous analytics file is untouched."""


# Tables of segments.duckdb published to analysts (members without the customer number: exports only).
SEGMENT_TABLES = {
    "segment_versions": "select * from segments.segment_versions",
    "segment_members": "select segment, version, person_id from segments.segment_members",
    "segment_diffs": "select segment, version, person_id, change from segments.segment_diffs",
}


def is_dropped(column: str) -> bool:
    """True for a column that never reaches analysts (see :data:`DROPPED_COLUMNS`; any ``*_hash``)."""
    return column in DROPPED_COLUMNS or column.endswith("_hash")


def _published_person(column: str) -> str:
    """The published id of the warehouse person id in ``src.<column>`` (null if it has none)."""
    return (
        f"(select published_id from private.{pseudonyms.TABLE} pseudonym "
        f"where pseudonym.person_id = src.{quote_identifier(column)})"
    )


def _long_form_value(fallback: str) -> str:
    cases = " ".join(f"when '{code}' then {value}" for code, value in LONG_FORM_VALUES.items())
    return f"case src.tag_code {cases} else {fallback} end"


def published_select(columns: list[str], relation: str) -> str:
    """The SELECT that publishes ``relation`` (trusted SQL — a table name or a subquery — read as
    ``src``) with the given columns, under the column policy of this module. Reads the attached
    ``private`` store's published ids and the temp table of k-anonymous quasi-identifiers. A relation
    with a person column is ordered by its published ids, then by every other published column."""
    has_person = "person_id" in columns
    long_form = has_person and "tag_code" in columns and "tag_value" in columns
    wide = has_person and any(c in columns for c in (*QUASI_IDENTIFIER_COLUMNS, "birth_date"))
    quasi_codes = ", ".join(quote_literal(code) for code in LONG_FORM_VALUES)
    expressions = []
    outputs = []  # the published column names, in order
    for column in columns:
        name = quote_identifier(column)
        if long_form and column == "tag_code":
            expressions.append(
                f"case src.tag_code when 'birth_date' then 'birth_year' else src.tag_code end as {name}"
            )
        elif long_form and column == "tag_value":
            expressions.append(f"{_long_form_value('src.tag_value')} as {name}")
        elif long_form and column == "previous_value":
            # An earlier value of a quasi-identifier (a former city, a corrected birth date) is not published.
            expressions.append(
                f"case when src.tag_code in ({quasi_codes}) then null else src.{name} end as {name}"
            )
        elif pseudonyms.is_person_column(column):
            expressions.append(f"{_published_person(column)} as {name}")
        elif column in RECORD_IDS and has_person:
            expressions.append(
                f"{RECORD_IDS[column].format(person=_published_person('person_id'))} as {name}"
            )
        elif column == "birth_date" and wide:
            expressions.append("q.birth_year as birth_year, q.birth_year_band as birth_year_band")
            outputs.extend(("birth_year", "birth_year_band"))
            continue
        elif column in RECORD_IDS or is_dropped(column):
            continue
        elif column in QUASI_IDENTIFIER_COLUMNS and wide:
            expressions.append(f"q.{name} as {name}")
        elif column in MONTH_COLUMNS:
            expressions.append(f"cast(date_trunc('month', src.{name}) as date) as {name}")
        else:
            expressions.append(f"src.{name}")
        outputs.append(column)
    sql = f"select {', '.join(expressions)} from {relation} src"
    if long_form or wide:
        sql += f" left join {quasi_identifiers.RESULT} q on q.person_id = src.person_id"
    if long_form:
        dropped = ", ".join(quote_literal(code) for code in LONG_FORM_DROPPED)
        sql += (
            f" where src.tag_code not in ({dropped})"
            f" and (src.tag_code not in ({quasi_codes}) or {_long_form_value('null')} is not null)"
        )
    people = [column for column in outputs if pseudonyms.is_person_column(column)]
    if people:
        # The warehouse's row order follows warehouse person ids (models ordered by them, joins on them):
        # anyone who can compute those ids could match rows by position. Published ids order it instead.
        order = [*people, *(column for column in outputs if column not in people)]
        keys = ", ".join(f"{quote_identifier(column)} nulls first" for column in order)
        sql = f"select * from ({sql}) published order by {keys}"
    return sql


def catalog_relation(con: duckdb.DuckDBPyConnection, table: str, relation: str) -> str:
    """``tag_catalog`` / ``tag_coverage`` as analysts get them (a subquery over ``relation``): only the tags
    they get (``birth_date`` becomes ``birth_year``; ``age``, ``days_until_birthday`` and
    ``account_age_days`` are left out), month-published dates described as such, and the coverage of the
    quasi-identifiers counted on their k-anonymous values. Other relations are returned as they are."""
    if table not in ("tag_catalog", "tag_coverage"):
        return relation
    columns = _columns(con, relation)
    if "tag_code" not in columns:
        return relation
    replace = {}
    if table == "tag_catalog":
        for column, value in CATALOG_BIRTH_YEAR.items():
            if column in columns:
                replace[column] = (
                    f"case tag_code when 'birth_date' then {quote_literal(value)} "
                    f"else {quote_identifier(column)} end"
                )
        if "definition" in columns:
            months = ", ".join(quote_literal(code) for code in MONTH_COLUMNS)
            birth = replace.get("definition", "definition")
            replace["definition"] = (
                f"case when tag_code in ({months}) then definition || {quote_literal(CATALOG_MONTH_NOTE)} "
                f"else {birth} end"
            )
    else:
        replace["tag_code"] = "case tag_code when 'birth_date' then 'birth_year' else tag_code end"
        if {"tag_table", "persons_with_value", "persons"} <= set(columns):
            # The quasi-identifier tags have a value where the k-anonymous publish kept one.
            counted = {
                **{code: f"q.{code}" for code in QUASI_IDENTIFIER_COLUMNS},
                "birth_date": "q.birth_year",
            }
            kept = " ".join(
                f"when {quote_literal(code)} then (select count({value}) from {quasi_identifiers.RESULT} q "
                f"where q.person_id in (select person_id from {_warehouse_relation('tags_basic')}))"
                for code, value in counted.items()
            )
            with_value = f"case when tag_table = 'tags_basic' then case tag_code {kept} end end"
            replace["persons_with_value"] = f"coalesce({with_value}, persons_with_value)"
            if "coverage_share" in columns:
                replace["coverage_share"] = (
                    f"case when {with_value} is null then coverage_share when persons = 0 then 0 "
                    f"else {with_value} * 1.0 / persons end"
                )
    replaced = ", ".join(
        f"cast({sql} as {_type(con, relation, c)}) as {quote_identifier(c)}" for c, sql in replace.items()
    )
    dropped = ", ".join(quote_literal(code) for code in CATALOG_DROPPED)
    return f"(select * replace ({replaced}) from {relation} where tag_code not in ({dropped}))"


def _warehouse_relation(table: str) -> str:
    """A published table in the warehouse attached as ``warehouse``: a model assets' table (ml schema) or
    a dbt model (its relation from the manifest)."""
    if table in ml_store.PUBLISHED:
        return f"{quote_identifier('warehouse')}.{ml_store.relation(table)}"
    return model_relation(table).in_catalog("warehouse")


def _type(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> str:
    types = {row[0]: row[1] for row in con.execute(f"describe select * from {relation}").fetchall()}
    return types[column]


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe select * from {relation}").fetchall()]


def _person_ids(con: duckdb.DuckDBPyConnection, relations: list[str]) -> None:
    """Temp table ``publish_person_ids``: every person id of every relation about to be published."""
    selects = [
        f"select {quote_identifier(column)} as person_id from {relation}"
        for relation in relations
        for column in _columns(con, relation)
        if pseudonyms.is_person_column(column)
    ]
    con.execute(
        "create or replace temp table publish_person_ids as "
        + (" union ".join(selects) if selects else "select null::varchar as person_id where false")
    )


def _quasi_identifier_source(con: duckdb.DuckDBPyConnection) -> None:
    """Temp view ``quasi_identifier_source``: each person's gender, birth year, age band, province and city
    from the warehouse's person_profile (one row per person)."""
    profile = _warehouse_relation("person_profile")
    columns = set(_columns(con, profile))

    def pick(column: str, expression: str | None = None) -> str:
        return (expression or column) if column in columns else "null"

    con.execute(
        "create or replace temp view quasi_identifier_source as select person_id, "
        f"{pick('gender')}::varchar as gender, "
        f"{pick('birth_date', 'year(birth_date)')}::integer as birth_year, "
        f"{pick('age_band')}::varchar as age_band, {pick('province')}::varchar as province, "
        f"{pick('city')}::varchar as city from {profile}"
    )


def k_anonymity() -> int:
    """``vars: fundcdp: publish: k_anonymity`` of the dbt project."""
    from orchestration.lib.rules import load_business_rules

    return int(load_business_rules()["publish"]["k_anonymity"])


def publish_analytics(
    warehouse_db: Path,
    analytics_db: Path,
    quality_db: Path | None = None,
    tables=PUBLISHED_TABLES,
    segments_db: Path | None = None,
    private_db: Path | None = None,
    k: int | None = None,
    ledger: list[LedgerDay] | None = None,
) -> dict[str, int]:
    """Write ``tables``, ``dq_results`` and the segment tables to a fresh file and swap it in; returns rows
    per table. Person ids are published through ``private_db`` (default: ``private.duckdb`` beside the
    analytics file, as in the data directory), quasi-identifiers ``k``-anonymous (default: the business
    rule); ``publish_privacy`` in the file records what was generalised. The dashboards' health and
    identity summaries (:data:`SUMMARY_TABLES`, counts only) come from the warehouse and ``ledger`` (the
    completeness ledger: ``source_deliveries`` is empty without one)."""
    private_db = private_db or analytics_db.with_name("private.duckdb")
    k = k_anonymity() if k is None else k
    # Fresh files left by a publish that crashed before its swap (one writer at a time: none is live).
    for leftover in analytics_db.parent.glob(f".{analytics_db.name}.*.tmp*"):
        leftover.unlink(missing_ok=True)
    temporary = analytics_db.with_name(f".{analytics_db.name}.{uuid.uuid4().hex}.tmp")
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(str(temporary))
        try:
            con.execute("attach ? as warehouse (read_only)", [str(warehouse_db)])
            relations = {table: _warehouse_relation(table) for table in tables}
            if quality_db is not None and quality_db.exists():
                con.execute("attach ? as quality (read_only)", [str(quality_db)])
                relations["dq_results"] = "quality.dq_results"
            if segments_db is not None and segments_db.exists():
                con.execute("attach ? as segments (read_only)", [str(segments_db)])
                relations.update({table: f"({select})" for table, select in SEGMENT_TABLES.items()})
            _attach_private(con, private_db)
            _person_ids(con, list(relations.values()))
            pseudonyms.assign(con, "private", "publish_person_ids", datetime.now(UTC).replace(tzinfo=None))
            _quasi_identifier_source(con)
            report = quasi_identifiers.generalise(con, "quasi_identifier_source", k)
            for table, relation in relations.items():
                relation = catalog_relation(con, table, relation)
                select = published_select(_columns(con, relation), relation)
                con.execute(f"create table main.{quote_identifier(table)} as {select}")
                counts[table] = con.execute(
                    f"select count(*) from main.{quote_identifier(table)}"
                ).fetchone()[0]
            _write_privacy_report(con, report)
            counts.update(_summaries(con, ledger or []))
            con.execute("detach private")
            for catalog in ("warehouse", "quality", "segments"):
                con.execute(f"detach database if exists {catalog}")
            if segments_db is not None and segments_db.exists():
                counts["experiment_results"] = _experiment_results(con, segments_db, warehouse_db)
            con.execute("checkpoint")
        finally:
            con.close()
        # What analysts read: 0600, or 0640 with FUNDCDP_ANALYTICS_GROUP_READABLE (set before the swap).
        os.chmod(temporary, analyst_file_mode())
        crash_if_armed("analytics_swap")
        os.replace(temporary, analytics_db)
    except (duckdb.Error, OSError) as problem:
        raise PublishError(
            f"publishing {analytics_db} failed, the previous file is kept: {problem}"
        ) from problem
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return counts


def _attach_private(con: duckdb.DuckDBPyConnection, private_db: Path) -> None:
    """Attach the private store read-write (created owner-only if it does not exist yet)."""
    from orchestration.lib.duckdb_files import owner_only

    existed = private_db.exists()
    with owner_only():
        con.execute("attach ? as private", [str(private_db)])
    if not existed:
        os.chmod(private_db, 0o600)


# Tables the publish step builds for the dashboards from the warehouse and the completeness ledger: counts
# and codes only (no file name, no loader message, no quarantined line, no identifier hash).
SUMMARY_TABLES = ("source_deliveries", "quarantine_summary", "identity_conflict_summary")


def _summaries(con: duckdb.DuckDBPyConnection, ledger: list[LedgerDay]) -> dict[str, int]:
    """``source_deliveries``: each source's ledger status per day with the day's files and rows from the
    load manifests; ``quarantine_summary``: quarantined lines per arrival day, source table and reason;
    ``identity_conflict_summary``: ID-Mapping's conflicts per reason and identifier type. A warehouse
    without the model a summary reads (a partial build) gets the summary empty."""
    con.execute("create temp table ledger_days (source varchar, day date, status varchar)")
    if ledger:
        days = [(d.source, d.day, d.status) for d in ledger]
        con.executemany("insert into ledger_days values (?, ?, ?)", days)
    summaries = {
        "source_deliveries": (
            "stg_ingest__load_manifests",
            "select l.source, l.day, l.status, coalesce(m.files, 0) as files,"
            " coalesce(m.lines_read, 0) as lines_read, coalesce(m.rows_loaded, 0) as rows_loaded,"
            " coalesce(m.rows_quarantined, 0) as rows_quarantined"
            " from ledger_days as l left join (select source_system, arrival_date, count(*) as files,"
            " sum(lines_read) as lines_read, sum(rows_loaded) as rows_loaded,"
            " sum(rows_quarantined) as rows_quarantined from {relation} where load_status = 'loaded'"
            " group by all) as m on m.source_system = l.source and m.arrival_date = l.day"
            " order by l.day, l.source",
            "source varchar, day date, status varchar, files bigint, lines_read bigint,"
            " rows_loaded bigint, rows_quarantined bigint",
        ),
        "quarantine_summary": (
            "stg_ingest__quarantined_lines",
            "select arrival_date, source_system as source, table_name, quarantine_reason as reason,"
            " count(*) as lines from {relation} group by all order by all",
            "arrival_date date, source varchar, table_name varchar, reason varchar, lines bigint",
        ),
        "identity_conflict_summary": (
            "identity_conflicts",
            "select as_of_date, conflict_reason, identifier_type, count(*) as conflicts"
            " from {relation} group by all order by all",
            "as_of_date date, conflict_reason varchar, identifier_type varchar, conflicts bigint",
        ),
    }
    counts = {}
    for table, (model, select, empty) in summaries.items():
        relation = model_relation(model).in_catalog("warehouse")
        try:
            con.execute(f"describe select * from {relation}")
        except duckdb.CatalogException:
            con.execute(f"create table main.{table} ({empty})")
        else:
            con.execute(f"create table main.{table} as " + select.format(relation=relation))
        counts[table] = con.execute(f"select count(*) from main.{table}").fetchone()[0]
    con.execute("drop table ledger_days")
    return counts


PRIVACY_REPORT_COLUMNS = (
    "k",
    "persons",
    "smallest_group_before",
    "smallest_group_after",
    "city_generalised",
    "year_generalised",
    "suppressed",
)


def _write_privacy_report(con: duckdb.DuckDBPyConnection, report: dict) -> None:
    con.execute(
        "create table main.publish_privacy (k integer, persons bigint, "
        "smallest_group_before bigint, smallest_group_after bigint, city_generalised bigint, "
        "year_generalised bigint, suppressed bigint)"
    )
    con.execute(
        "insert into main.publish_privacy values (?, ?, ?, ?, ?, ?, ?)",
        [report[c] for c in PRIVACY_REPORT_COLUMNS],
    )


def privacy_report(analytics_db: Path) -> dict:
    """What the last publish did to the quasi-identifiers (the ``publish_privacy`` row), for the asset's
    metadata: k, persons, the smallest group before and after, and the counts generalised / suppressed."""
    con = duckdb.connect(str(analytics_db), read_only=True)
    try:
        row = con.execute(f"select {', '.join(PRIVACY_REPORT_COLUMNS)} from publish_privacy").fetchone()
    finally:
        con.close()
    return dict(zip(PRIVACY_REPORT_COLUMNS, row, strict=True))


def _experiment_results(con: duckdb.DuckDBPyConnection, segments_db: Path, warehouse_db: Path) -> int:
    from orchestration.defs.segments.experiments import COLUMNS, experiment_results

    results = experiment_results(segments_db, warehouse_db)
    con.execute(
        "create table main.experiment_results (segment varchar, version integer,"
        " as_of_date date, conversion_days integer, observed_days integer,"
        " test_persons bigint, test_converted bigint, control_persons bigint,"
        " control_converted bigint, rate_test double, rate_control double, lift double,"
        " difference double, ci_low double, ci_high double, z double, p_value double)"
    )
    if results:
        placeholders = ", ".join("?" for _ in COLUMNS)
        con.executemany(f"insert into main.experiment_results values ({placeholders})", results)
    return len(results)


PREVIEWS = {
    "funnel": "select sum(landed_persons) as landed, sum(activated_persons) as activated, "
    "sum(registered_persons) as registered, sum(account_opened_persons) as accounts, "
    "sum(card_bound_persons) as cards, sum(first_purchase_persons) as buyers, "
    "sum(repeat_purchase_persons) as repeat_buyers from funnel_daily",
    "lifecycle": "select lifecycle_stage, count(*) as persons from person_profile group by 1 order by 2 desc",
    "channels (first touch)": "select utm_source, round(sum(new_persons)) as persons, "
    "round(sum(first_purchases)) as buyers from channel_attribution where attribution_model = 'first_touch' "
    "group by 1 order by 2 desc limit 5",
}


def preview_markdown(analytics_db: Path) -> str:
    """Small markdown previews of key marts (for the Dagster asset's metadata)."""
    parts = []
    con = duckdb.connect(str(analytics_db), read_only=True)
    try:
        for title, sql in PREVIEWS.items():
            try:
                result = con.execute(sql)
            except duckdb.CatalogException:
                continue
            columns = [column[0] for column in result.description]
            rows = result.fetchall()
            parts.append(f"**{title}**\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
            parts.extend("| " + " | ".join(str(value) for value in row) + " |" for row in rows)
            parts.append("")
    finally:
        con.close()
    return "\n".join(parts)
