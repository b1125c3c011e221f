"""The two metadata entries every materialization carries: its row count and its as-of date.

``dagster/row_count`` is the key Dagster's UI shows as the asset's row count (its ``TableMetadataSet``);
``as_of_date`` is the day the materialization is of: the arrival day for a raw table, the as-of date of the
build for everything built from them.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

ROW_COUNT = "dagster/row_count"
AS_OF_DATE = "as_of_date"


def row_count_and_as_of(row_count: int, as_of: date | str) -> dict[str, dg.MetadataValue]:
    """The row count and the as-of date (YYYY-MM-DD) of one materialization, as Dagster metadata."""
    day = as_of.isoformat() if isinstance(as_of, date) else str(as_of)
    return {ROW_COUNT: dg.MetadataValue.int(int(row_count)), AS_OF_DATE: dg.MetadataValue.text(day)}
