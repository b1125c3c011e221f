"""Evaluate, preview and publish segments: versions, members, diffs and exports.

Everything is kept in ``segments.duckdb`` (its own file: the warehouse keeps one writer) and exports go to
``outbox/segments/<segment>/<version>/`` (members.csv, members.parquet, manifest.json). Exports carry the
CRM customer number and the experiment group only: never a phone, e-mail, ID number or name.

Publishing is idempotent: a segment whose evaluation is identical to its current version for the same as-of
date (same :func:`content_sha256`: the definition and every match with its exclusion and group) publishes
nothing, neither a version nor an export (status ``unchanged``; docs/segments.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.defs.segments.compiler import DUCKDB, compile_segment
from orchestration.defs.segments.definition import Catalog, Segment
from orchestration.defs.segments.guard import check_segment_sql
from orchestration.lib.as_of import built_as_of_date
from orchestration.lib.relations import relation
from orchestration.lib.rules import local_zone
from orchestration.lib.sql import quote_literal

EXCLUSION_REASONS = ("quarantined", "no_consent", "unsuitable", "no_customer_number")
BREAKDOWNS = ("lifecycle_stage", "value_tier", "main_platform")

STORE_DDL = (
    """create table if not exists segment_versions (
        segment varchar, version integer, as_of_date date, status varchar, blocked_reason varchar,
        size bigint, excluded_no_consent bigint, excluded_unsuitable bigint,
        excluded_no_customer_number bigint, entered bigint, exited bigint, checks_passed boolean,
        split_counts varchar, compiled_sql_sha256 varchar, published_at timestamp)""",
    """create table if not exists segment_members (
        segment varchar, version integer, person_id varchar, customer_no varchar, split_group varchar)""",
    """create table if not exists segment_diffs (
        segment varchar, version integer, person_id varchar, customer_no varchar, change varchar)""",
    # persons quarantined by the persons gate (docs/quality.md); added to stores made before it
    "alter table segment_versions add column if not exists excluded_quarantined bigint",
    # what a re-run compares to publish nothing when nothing changed (content_sha256); null on older rows
    "alter table segment_versions add column if not exists content_sha256 varchar",
    # a blocked attempt's members wait here until it is approved (approve_segment) or superseded
    """create table if not exists segment_candidates (
        segment varchar, attempt_id varchar, person_id varchar, customer_no varchar, split_group varchar)""",
    # the blocked attempt (attempt_id: its candidates), the definition its export names (definition_json:
    # purpose, channel, …) and, for a version published by approval, who approved it, when and why
    "alter table segment_versions add column if not exists attempt_id varchar",
    "alter table segment_versions add column if not exists definition_json varchar",
    "alter table segment_versions add column if not exists approved_by varchar",
    "alter table segment_versions add column if not exists approved_at timestamp",
    "alter table segment_versions add column if not exists approval_reason varchar",
)
VERSION_COLUMNS = (
    "segment, version, as_of_date, status, blocked_reason, size, excluded_no_consent, excluded_unsuitable, "
    "excluded_no_customer_number, entered, exited, checks_passed, split_counts, compiled_sql_sha256, "
    "published_at, excluded_quarantined, content_sha256, attempt_id, definition_json"
)
# Definition fields an export's manifest names (kept with a blocked attempt for its approval).
MANIFEST_FIELDS = ("name", "purpose", "channel", "promoted_product_risk")


@dataclass
class Evaluation:
    """A segment evaluated as of a date: every rule match with its exclusion reason and group."""

    segment: Segment
    as_of: date
    sql: str
    rows: list[tuple]  # person_id, customer_no, lifecycle_stage, value_tier, main_platform, reason, group

    @property
    def members(self) -> list[tuple]:
        return [row for row in self.rows if row[5] is None]

    def excluded(self) -> dict[str, int]:
        return {reason: sum(1 for row in self.rows if row[5] == reason) for reason in EXCLUSION_REASONS}

    def preview(self) -> dict:
        """Size, exclusions and breakdowns by lifecycle stage, value tier and platform."""
        members = self.members
        breakdown = {}
        for index, name in enumerate(BREAKDOWNS, start=2):
            counts: dict[str, int] = {}
            for row in members:
                key = str(row[index]) if row[index] is not None else "(none)"
                counts[key] = counts.get(key, 0) + 1
            breakdown[name] = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        groups: dict[str, int] = {}
        for row in members:
            if row[6] is not None:
                groups[row[6]] = groups.get(row[6], 0) + 1
        return {
            "segment": self.segment.name,
            "as_of_date": self.as_of.isoformat(),
            "size": len(members),
            "matched": len(self.rows),
            "excluded": self.excluded(),
            "split": groups,
            **breakdown,
        }


def evaluate(warehouse_db: Path, segment: Segment, catalog: Catalog, as_of: date) -> Evaluation:
    """Run the segment's DuckDB SQL read-only against the warehouse (after the guard passed it)."""
    sql = compile_segment(segment, catalog, DUCKDB, as_of)
    query = sql + "order by 1"
    check_segment_sql(query, "duckdb", segment.name)
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        rows = con.execute(query).fetchall()
    finally:
        con.close()
    return Evaluation(segment, as_of, sql, rows)


def preview_segment(warehouse_db: Path, segment: Segment, catalog: Catalog, as_of: date) -> dict:
    """``evaluate(...).preview()`` without fetching the matches: the same dict (same keys, values and key
    order). DuckDB counts the matches per combination of exclusion reason, group and breakdown values (at
    most a few thousand rows, however large the segment) and Python adds those up: fetching every match
    into Python and counting there takes about 2 s for a segment of 460k matches (SF10 scale), the grouped
    query some 60 ms. The CLI's preview; the segments asset fetches the members anyway."""
    sql = compile_segment(segment, catalog, DUCKDB, as_of)
    columns = ", ".join(("exclusion_reason", "split_group", *BREAKDOWNS))
    query = f"select {columns}, count(*), min(person_id)\nfrom (\n{sql}) as matched\ngroup by {columns}"
    check_segment_sql(query, "duckdb", segment.name)  # the compiled SQL inside a constant wrapper
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        combinations = con.execute(query).fetchall()
    finally:
        con.close()
    reasons: dict[str | None, int] = {}
    counts: dict[str, dict[str, int]] = {name: {} for name in BREAKDOWNS}
    groups: dict[str, list] = {}  # group -> [members, its first member's person_id]
    for reason, group, *values, count, first_person in combinations:
        reasons[reason] = reasons.get(reason, 0) + count
        if reason is not None:  # the breakdowns and the split count members only
            continue
        for name, value in zip(BREAKDOWNS, values, strict=True):
            key = str(value) if value is not None else "(none)"
            counts[name][key] = counts[name].get(key, 0) + count
        if group is not None:
            seen = groups.setdefault(group, [0, first_person])
            seen[0] += count
            seen[1] = min(seen[1], first_person)
    breakdown = {
        name: dict(sorted(counts[name].items(), key=lambda item: (-item[1], item[0]))) for name in BREAKDOWNS
    }
    return {
        "segment": segment.name,
        "as_of_date": as_of.isoformat(),
        "size": reasons.get(None, 0),
        "matched": sum(reasons.values()),
        "excluded": {reason: reasons.get(reason, 0) for reason in EXCLUSION_REASONS},
        # in the order Evaluation.preview() meets the groups: by their first member in person_id order
        "split": {group: seen[0] for group, seen in sorted(groups.items(), key=lambda item: item[1][1])},
        **breakdown,
    }


def content_sha256(evaluation: Evaluation) -> str:
    """What a version is, as one SHA-256: the definition (every field but the rule and the file it came
    from, and the compiled SQL, which is the rule as of the date) and every match sorted by person, each
    with its customer number, exclusion reason (null for a member) and experiment group. Two evaluations
    with the same hash export the same members and groups and record the same counts."""
    segment = evaluation.segment
    definition = {f.name: getattr(segment, f.name) for f in fields(segment) if f.name not in ("rule", "file")}
    for later in LATER_FIELDS:  # fields added since hashes were first kept: absent, they change no hash
        if definition.get(later) is None:
            definition.pop(later, None)
    digest = hashlib.sha256()
    digest.update(json.dumps(definition, sort_keys=True, default=str).encode())
    digest.update(b"\x00" + evaluation.sql.encode() + b"\x00")
    matches = sorted((str(row[0]), row[1], row[5], row[6]) for row in evaluation.rows)
    for match in matches:
        digest.update(json.dumps(match).encode() + b"\n")
    return digest.hexdigest()


# Definition fields added after content hashes were first recorded.
LATER_FIELDS = ("min_changed_persons",)


def change_problem(segment: Segment, entered: int, exited: int, previous_size: int) -> str | None:
    """Why a change from the previous version blocks publishing, or None. ``max_change`` is a share of
    the previous version's size; ``min_changed_persons`` a floor: fewer persons entering and exiting
    never block, whatever their share (3 members, 1 in and 1 out is 67 % but only 2 persons)."""
    if segment.max_change is None:
        return None
    changed = entered + exited
    change = changed / max(previous_size, 1)
    if change <= segment.max_change:
        return None
    floor = segment.min_changed_persons
    if floor is not None and changed < floor:
        return None
    reason = (
        f"{entered} entered and {exited} exited: a change of {change:.0%} of the previous "
        f"version's {previous_size} members exceeds max_change {segment.max_change:.0%}"
    )
    if floor is not None:
        reason += f" and reaches min_changed_persons {floor}"
    return reason


@dataclass
class PublishOutcome:
    segment: str
    # published | blocked | skipped (an earlier date than the current version) | unchanged (identical to
    # the current version of the same date: nothing published)
    status: str
    version: int | None
    size: int
    entered: int = 0
    exited: int = 0
    reason: str | None = None
    export_dir: Path | None = None
    excluded: dict[str, int] = field(default_factory=dict)
    # blocked: the version number an approval would publish it as (segments approve NAME --version N)
    pending_version: int | None = None


def _store(store_db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(store_db))
    for statement in STORE_DDL:
        con.execute(statement)
    return con


def current_version(store_db: Path, segment: str) -> tuple[int | None, date | None]:
    """The latest published version of ``segment`` and its as-of date."""
    if not store_db.exists():
        return None, None
    con = _store(store_db)
    try:
        row = con.execute(
            "select version, as_of_date from segment_versions where segment = ? and status = 'published' "
            "order by version desc limit 1",
            [segment],
        ).fetchone()
    finally:
        con.close()
    return (row[0], row[1]) if row else (None, None)


def _current_content(store_db: Path, segment: str) -> tuple[int, date, str | None] | None:
    """The latest published version of ``segment``: its number, as-of date and content hash."""
    con = _store(store_db)
    try:
        return con.execute(
            "select version, as_of_date, content_sha256 from segment_versions "
            "where segment = ? and status = 'published' order by version desc limit 1",
            [segment],
        ).fetchone()
    finally:
        con.close()


def current_members(store_db: Path, segment: str) -> tuple[int | None, dict[str, str | None]]:
    """The latest published version of ``segment`` and its members (person_id -> customer_no)."""
    if not store_db.exists():
        return None, {}
    con = _store(store_db)
    try:
        (version,) = con.execute(
            "select max(version) from segment_versions where segment = ? and status = 'published'", [segment]
        ).fetchone()
        if version is None:
            return None, {}
        rows = con.execute(
            "select person_id, customer_no from segment_members where segment = ? and version = ?",
            [segment, version],
        ).fetchall()
    finally:
        con.close()
    return version, dict(rows)


def publish_segment(
    store_db: Path, outbox: Path, evaluation: Evaluation, checks_passed: bool = True
) -> PublishOutcome:
    """Publish a new version unless the size or the change from the last version is out of bounds (or
    the data's checks did not pass): then record the attempt as blocked and keep the last good version.
    An evaluation identical to the current version of the same as-of date (:func:`content_sha256`)
    publishes nothing and records nothing: status ``unchanged``, the current version and its export."""
    segment = evaluation.segment
    members = {row[0]: row for row in evaluation.members}
    _, current_as_of = current_version(store_db, segment.name)
    if current_as_of is not None and evaluation.as_of < current_as_of:
        # a re-run for an earlier date (a backfill) never replaces a newer audience
        return PublishOutcome(
            segment.name, "skipped", None, len(members),
            reason=f"the current version is as of {current_as_of}, later than {evaluation.as_of}",
        )  # fmt: skip
    previous_version, previous = current_members(store_db, segment.name)
    entered = sorted(set(members) - set(previous))
    exited = sorted(set(previous) - set(members))
    size = len(members)
    reason = None
    if not checks_passed:
        reason = "the data's quality gates did not pass"
    elif size < segment.size_min or (segment.size_max is not None and size > segment.size_max):
        upper = segment.size_max if segment.size_max is not None else "no maximum"
        reason = f"size {size} outside its bounds [{segment.size_min}, {upper}]"
    elif previous_version is not None:
        reason = change_problem(segment, len(entered), len(exited), len(previous))
    excluded = evaluation.excluded()
    content_sha = content_sha256(evaluation)
    current = _current_content(store_db, segment.name) if store_db.exists() else None
    if reason is None and current is not None and current[1:] == (evaluation.as_of, content_sha):
        return PublishOutcome(
            segment.name, "unchanged", current[0], size,
            reason=f"identical to version {current[0]} as of {evaluation.as_of}: nothing published",
            export_dir=outbox / "segments" / segment.name / f"v{current[0]:04d}", excluded=excluded,
        )  # fmt: skip
    split_counts: dict[str, int] = {}
    for row in members.values():
        if row[6] is not None:
            split_counts[row[6]] = split_counts.get(row[6], 0) + 1
    definition = {name: getattr(segment, name) for name in MANIFEST_FIELDS}
    attempt = VersionAttempt(
        segment=segment.name,
        as_of=evaluation.as_of,
        members={pid: (row[1], row[6]) for pid, row in members.items()},
        excluded=excluded,
        split_counts=split_counts,
        checks_passed=checks_passed,
        sql_sha256=hashlib.sha256(evaluation.sql.encode()).hexdigest(),
        content_sha256=content_sha,
        definition=definition,
    )
    if reason is not None:
        pending = pending_attempt(store_db, segment.name) if store_db.exists() else None
        if pending is not None and (pending.as_of, pending.content_sha256) == (evaluation.as_of, content_sha):
            # the same blocked attempt again (a re-run of the day): recorded once, still waiting for approval
            return PublishOutcome(
                segment.name, "blocked", previous_version, size, len(entered), len(exited), reason, None,
                excluded, pending_version=(previous_version or 0) + 1,
            )  # fmt: skip
        _record_blocked(store_db, attempt, reason, len(entered), len(exited))
        return PublishOutcome(
            segment.name, "blocked", previous_version, size, len(entered), len(exited), reason, None,
            excluded, pending_version=(previous_version or 0) + 1,
        )  # fmt: skip
    return _publish_version(store_db, outbox, attempt)


@dataclass
class VersionAttempt:
    """What a version is made of: enough to publish it now or, once blocked, on approval."""

    segment: str
    as_of: date
    members: dict[str, tuple[str | None, str | None]]  # person_id -> (customer_no, split_group)
    excluded: dict[str, int]
    split_counts: dict[str, int]
    checks_passed: bool
    sql_sha256: str
    content_sha256: str
    definition: dict  # MANIFEST_FIELDS
    attempt_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    blocked_reason: str | None = None

    def values(self, entered: int, exited: int, now: datetime) -> list:
        """The row of segment_versions from ``as_of_date`` on (VERSION_COLUMNS), but its status and reason."""
        return [
            self.as_of, len(self.members), self.excluded["no_consent"], self.excluded["unsuitable"],
            self.excluded["no_customer_number"], entered, exited, self.checks_passed,
            json.dumps(self.split_counts, sort_keys=True), self.sql_sha256, now, self.excluded["quarantined"],
            self.content_sha256, self.attempt_id, json.dumps(self.definition, sort_keys=True),
        ]  # fmt: skip


def _now() -> datetime:
    """Now in the company's time zone (``vars: fundcdp: time_zone``), as the loads' timestamps."""
    return datetime.now(local_zone()).replace(tzinfo=None)


def _record_blocked(store_db: Path, attempt: VersionAttempt, reason: str, entered: int, exited: int) -> None:
    """The blocked attempt's row and its members (the segment's only candidates: older ones are dropped)."""
    con = _store(store_db)
    try:
        con.execute("begin transaction")
        con.execute(
            f"insert into segment_versions ({VERSION_COLUMNS}) "
            "values (?, null, ?, 'blocked', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [attempt.segment, attempt.as_of, reason, *attempt.values(entered, exited, _now())[1:]],
        )
        con.execute("delete from segment_candidates where segment = ?", [attempt.segment])
        _insert(
            con,
            "segment_candidates",
            {"segment": pa.string(), "attempt_id": pa.string(), "person_id": pa.string(),
             "customer_no": pa.string(), "split_group": pa.string()},
            [(attempt.segment, attempt.attempt_id, pid, customer, group)
             for pid, (customer, group) in sorted(attempt.members.items())],
        )  # fmt: skip
        con.execute("commit")
    finally:
        con.close()


def _publish_version(
    store_db: Path, outbox: Path, attempt: VersionAttempt, approval: tuple[str, str] | None = None
) -> PublishOutcome:
    """Publish ``attempt`` as the next version: its row, members and diffs in segments.duckdb, and its export
    under the outbox. With ``approval`` (who, why) the attempt's blocked row becomes the published version,
    recording who approved it, when and why."""
    previous_version, previous = current_members(store_db, attempt.segment)
    members = attempt.members
    entered = sorted(set(members) - set(previous))
    exited = sorted(set(previous) - set(members))
    version = (previous_version or 0) + 1
    final_dir = outbox / "segments" / attempt.segment / f"v{version:04d}"
    staging_dir = final_dir.with_name(f".{final_dir.name}.{uuid.uuid4().hex}")
    now = _now()
    try:
        _write_exports(staging_dir, attempt, version)
        con = _store(store_db)
        try:
            con.execute("begin transaction")
            if approval is None:
                con.execute(
                    f"insert into segment_versions ({VERSION_COLUMNS}) "
                    "values (?, ?, ?, 'published', null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [attempt.segment, version, *attempt.values(len(entered), len(exited), now)],
                )
            else:
                approved_by, why = approval
                (updated,) = con.execute(
                    "update segment_versions set status = 'published', version = ?, size = ?, entered = ?, "
                    "exited = ?, published_at = ?, approved_by = ?, approved_at = ?, approval_reason = ? "
                    "where segment = ? and attempt_id = ? and status = 'blocked'",
                    [version, len(members), len(entered), len(exited), now, approved_by, now, why,
                     attempt.segment, attempt.attempt_id],
                ).fetchone()  # fmt: skip
                if updated != 1:  # another run or approval recorded a newer attempt meanwhile
                    raise ApprovalError(
                        f"segment {attempt.segment}: its blocked version changed while it was being "
                        "approved; nothing approved, look again"
                    )
                con.execute("delete from segment_candidates where segment = ?", [attempt.segment])
            version_columns = {"segment": pa.string(), "version": pa.int32(), "person_id": pa.string()}
            _insert(
                con,
                "segment_members",
                {**version_columns, "customer_no": pa.string(), "split_group": pa.string()},
                [
                    (attempt.segment, version, pid, customer, group)
                    for pid, (customer, group) in members.items()
                ],
            )
            _insert(
                con,
                "segment_diffs",
                {**version_columns, "customer_no": pa.string(), "change": pa.string()},
                [(attempt.segment, version, pid, members[pid][0], "entered") for pid in entered]
                + [(attempt.segment, version, pid, previous[pid], "exited") for pid in exited],
            )
            con.execute("commit")
        finally:
            con.close()
        if final_dir.exists():  # left by a version recorded nowhere (a crash before the commit)
            shutil.rmtree(final_dir)
        os.replace(staging_dir, final_dir)
    finally:
        if staging_dir.exists():
            shutil.rmtree(staging_dir)
    return PublishOutcome(
        attempt.segment, "published", version, len(members), len(entered), len(exited), None, final_dir,
        attempt.excluded,
    )  # fmt: skip


def _split_counts(groups) -> dict[str, int]:  # noqa: ANN001 (an iterable of groups or None)
    counts: dict[str, int] = {}
    for group in groups:
        if group is not None:
            counts[group] = counts.get(group, 0) + 1
    return dict(sorted(counts.items()))


class ApprovalError(ValueError):
    """An approval that cannot be done: nothing is published, the message says why and what to do."""


def pending_attempt(store_db: Path, segment: str) -> VersionAttempt | None:
    """The segment's blocked attempt waiting for approval: its latest attempt, if blocked and recorded
    after its current version (with its candidates' members), else None."""
    if not store_db.exists():
        return None
    con = _store(store_db)
    try:
        row = con.execute(
            "select status, as_of_date, blocked_reason, excluded_no_consent, excluded_unsuitable, "
            "excluded_no_customer_number, excluded_quarantined, checks_passed, split_counts, "
            "compiled_sql_sha256, content_sha256, attempt_id, definition_json from segment_versions "
            "where segment = ? order by published_at desc, version desc nulls first limit 1",
            [segment],
        ).fetchone()
        if row is None or row[0] != "blocked":
            return None
        candidates = con.execute(
            "select person_id, customer_no, split_group from segment_candidates "
            "where segment = ? and attempt_id = ?",
            [segment, row[11]],
        ).fetchall()
    finally:
        con.close()
    status, as_of, reason, no_consent, unsuitable, no_customer, quarantined, checks, split, *rest = row
    sql_sha, content_sha, attempt_id, definition_json = rest
    return VersionAttempt(
        segment=segment,
        as_of=as_of,
        members={pid: (customer, group) for pid, customer, group in candidates},
        excluded={"quarantined": quarantined or 0, "no_consent": no_consent, "unsuitable": unsuitable,
                  "no_customer_number": no_customer},
        # from the kept members (an erasure since the attempt may have removed one), not the attempt's row
        split_counts=_split_counts(group for _, _, group in candidates),
        checks_passed=bool(checks),
        sql_sha256=sql_sha,
        content_sha256=content_sha,
        definition=json.loads(definition_json) if definition_json else {},
        attempt_id=attempt_id,
        blocked_reason=reason,
    )  # fmt: skip


MAX_REASON = 500


def approve_segment(
    store_db: Path,
    outbox: Path,
    segment: str,
    reason: str,
    approved_by: str,
    version: int | None = None,
    warehouse_db: Path | None = None,
) -> PublishOutcome:
    """Publish the segment's blocked version (see :func:`pending_attempt`) as its next version, as a
    run publishes one (members, diffs, export), recording who approved it, when and why. ``version``, when
    given, must be the number it becomes (a guard against approving another attempt than the one seen).
    A version blocked because the data's quality gates failed cannot be approved: the data is wrong. Nor
    can a blocked list older than the current version, or than the as-of date ``warehouse_db`` was last
    built for: its members were checked for consent and quarantine as of its own date, and a person may
    have withdrawn since."""
    reason = (reason or "").strip()
    if not reason:
        raise ApprovalError('an approval needs a reason (--reason "...")')
    if len(reason) > MAX_REASON or any(ord(c) < 32 for c in reason):
        raise ApprovalError(f"the reason is one line of at most {MAX_REASON} characters")
    approved_by = (approved_by or "").strip()
    if not approved_by or len(approved_by) > 100:
        raise ApprovalError("an approval needs who approves it (1 to 100 characters)")
    attempt = pending_attempt(store_db, segment)
    current, _ = current_version(store_db, segment)
    if attempt is None:
        now = f"its current version is {current}" if current else "it has no version yet"
        raise ApprovalError(f"segment {segment} has no blocked version waiting for approval ({now})")
    becomes = (current or 0) + 1
    if version is not None and version != becomes:
        raise ApprovalError(
            f"segment {segment}: the blocked version as of {attempt.as_of} would be version {becomes}, "
            f"not {version}; nothing approved"
        )
    current_as_of = current_version(store_db, segment)[1]
    built_as_of = (
        built_as_of_date(warehouse_db) if warehouse_db is not None and warehouse_db.exists() else None
    )
    for newer, what in ((current_as_of, f"its current version {current}"), (built_as_of, "the warehouse")):
        if newer is not None and newer > attempt.as_of:
            raise ApprovalError(
                f"segment {segment}: the blocked version is as of {attempt.as_of}, but {what} is as of "
                f"{newer}: its members may have withdrawn consent since; run the day again, then approve"
            )
    if not attempt.checks_passed:
        raise ApprovalError(
            f"segment {segment}: blocked because the data's quality gates did not pass; that cannot be "
            "approved: fix the data and run the day again"
        )
    if not attempt.definition:
        raise ApprovalError(
            f"segment {segment}: the blocked attempt was recorded before approvals kept its members; "
            "run the day again, then approve"
        )
    return _publish_version(store_db, outbox, attempt, (approved_by, reason))


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, pa.DataType], rows: list) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) through one Arrow table: executemany runs one
    statement per row, minutes for a segment of a million members."""
    if not rows:
        return
    arrow = pa.table(
        {
            name: pa.array([row[i] for row in rows], type=kind)
            for i, (name, kind) in enumerate(columns.items())
        }
    )
    con.register("rows_to_insert", arrow)
    try:
        con.execute(f"insert into {table} by name select * from rows_to_insert")
    finally:
        con.unregister("rows_to_insert")


def _write_exports(directory: Path, attempt: VersionAttempt, version: int) -> None:
    """members.csv / members.parquet (customer_no, split_group) and manifest.json into ``directory``."""
    directory.mkdir(parents=True)
    con = duckdb.connect()
    try:
        con.execute("create table members (customer_no varchar, split_group varchar)")
        rows = sorted(attempt.members.values(), key=lambda row: (row[0] or "", row[1] or ""))
        _insert(con, "members", {"customer_no": pa.string(), "split_group": pa.string()}, rows)
        ordered = "(select * from members order by customer_no, split_group)"
        con.execute(f"copy {ordered} to {quote_literal(directory / 'members.csv')} (header, delimiter ',')")
        con.execute(f"copy {ordered} to {quote_literal(directory / 'members.parquet')} (format parquet)")
    finally:
        con.close()
    definition = attempt.definition
    manifest = {
        "segment": attempt.segment,
        "version": version,
        "as_of_date": attempt.as_of.isoformat(),
        "purpose": definition.get("purpose"),
        "channel": definition.get("channel"),
        "promoted_product_risk": definition.get("promoted_product_risk"),
        "size": len(attempt.members),
        "excluded": attempt.excluded,
        "split": attempt.split_counts,
        "columns": ["customer_no", "split_group"],
        "files": {
            name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
            for name in ("members.csv", "members.parquet")
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def members_without_consent(store_db: Path, warehouse_db: Path, segments: list[Segment]) -> int:
    """Members of the latest published version of each marketing segment (as of the warehouse's as-of date)
    lacking consent for its channel in the warehouse's int_person_consents (must be zero)."""
    built_as_of = built_as_of_date(warehouse_db)
    # consent is known as of the warehouse's build: versions of other dates are checked by their own run
    to_check = [
        (segment.channel, person_id)
        for segment in segments
        if segment.purpose == "marketing" and current_version(store_db, segment.name)[1] == built_as_of
        for person_id in current_members(store_db, segment.name)[1]
    ]
    if not to_check:
        return 0
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        con.execute("create temp table members (channel varchar, person_id varchar)")
        _insert(con, "members", {"channel": pa.string(), "person_id": pa.string()}, to_check)
        (missing,) = con.execute(
            f"select count(*) from members left join {relation('int_person_consents')} as c "
            "on c.person_id = members.person_id and c.channel = members.channel "
            "where not coalesce(c.is_consented, false)"
        ).fetchone()
    finally:
        con.close()
    return missing
