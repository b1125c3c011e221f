"""The columns of segment_versions that reach analysts: who approved a blocked version and why (free
text) stay in segments.duckdb; when it was approved is published."""

import sqlglot
from sqlglot import exp

from orchestration.defs.publish.analytics import published_select

SEGMENT_VERSION_COLUMNS = ["segment", "version", "as_of_date", "status", "blocked_reason", "size",
                           "approved_by", "approved_at", "approval_reason", "attempt_id"]  # fmt: skip


def test_approver_and_reason_are_not_published_the_approval_time_is():
    select = published_select(SEGMENT_VERSION_COLUMNS, "segments.segment_versions")
    tree = sqlglot.parse_one(select, read="duckdb")
    published = [projection.alias_or_name for projection in tree.find(exp.Select).expressions]
    assert published == ["segment", "version", "as_of_date", "status", "blocked_reason", "size",
                         "approved_at", "attempt_id"]  # fmt: skip
