"""A self-contained HTML report of the published analytics (inline CSS and SVG: no CDN, opens offline).

Sections: the acquisition funnel, channel quality (first touch), lifecycle stage x value tier, the RFM
grid, the weekly retention triangle, the data-quality summary and the segments' latest versions.
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb

from orchestration.lib.layout import analyst_dir_mode, analyst_file_mode

STEPS = (
    "landed",
    "activated",
    "registered",
    "account_opened",
    "card_bound",
    "first_purchase",
    "repeat_purchase",
)
STAGES = ("introduction", "growth", "mature", "dormant", "churned")
TIERS = ("high_net_worth", "affluent", "mass", "no_holdings")

CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC",sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #d9e2ec;padding:4px 8px;text-align:right}
th{background:#f0f4f8}td.l,th.l{text-align:left}.ok{color:#1b7f3b}.bad{color:#c62828;font-weight:bold}
.note{color:#627d98;font-size:12px}
"""


def _heat(value: float, maximum: float) -> str:
    share = 0 if not maximum else max(0.0, min(1.0, value / maximum))
    return f"background:rgba(37,99,235,{0.08 + 0.72 * share:.2f})"


def _funnel_svg(counts: list[int]) -> str:
    width, bar, gap = 720, 26, 8
    top = max(counts) or 1
    rows = []
    for index, (step, count) in enumerate(zip(STEPS, counts, strict=True)):
        y = index * (bar + gap)
        length = int(460 * count / top)
        share = f"{count / counts[0]:.0%}" if counts[0] else "-"
        step_rate = f" ({count / counts[index - 1]:.0%} of previous)" if index and counts[index - 1] else ""
        rows.append(
            f'<text x="0" y="{y + 18}" font-size="13">{step.replace("_", " ")}</text>'
            f'<rect x="150" y="{y}" width="{length}" height="{bar}" fill="#2563eb"/>'
            f'<text x="{156 + length}" y="{y + 18}" font-size="12">{count:,} · {share}{step_rate}</text>'
        )
    height = len(STEPS) * (bar + gap)
    return f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'


class Markup(str):
    """HTML built by this module from values it formatted itself (numbers, its own labels): inserted as
    is. Every other value — a utm source typed by a web visitor, a segment name — is text, escaped."""


def _cell(value) -> str:
    """A table cell's content: :class:`Markup` as is, anything else escaped (``<``, ``>``, ``&``, quotes)."""
    return value if isinstance(value, Markup) else html.escape(str(value))


def _heat_span(value: float, maximum: float, text: str) -> Markup:
    return Markup(f'<span style="{_heat(value, maximum)};padding:2px 6px">{html.escape(text)}</span>')


def _table(headers: list[str], rows: list[list], left: int = 1) -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i < left else ""}">{_cell(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(analytics_db: Path, directory: Path) -> Path:
    """Render the report from ``analytics.duckdb`` into ``directory``; returns the file written."""
    con = duckdb.connect(str(analytics_db), read_only=True)
    try:
        (as_of,) = con.execute("select max(as_of_date) from person_profile").fetchone()
        (persons,) = con.execute("select count(*) from person_profile").fetchone()
        funnel = con.execute(
            "select "
            + ", ".join(f"coalesce(sum({step}_persons), 0)" for step in STEPS)
            + " from funnel_daily"
        ).fetchone()
        channels = con.execute(
            "select utm_source, round(sum(new_persons)), round(sum(registrations)),"
            " round(sum(accounts_opened)), round(sum(first_purchases)), round(sum(aum_cny))"
            " from channel_attribution"
            " where attribution_model = 'first_touch' group by 1 order by 2 desc"
        ).fetchall()
        lifecycle = dict(
            ((stage, tier), n)
            for stage, tier, n in con.execute(
                "select lifecycle_stage, value_tier, persons from lifecycle_daily"
                " where as_of_date = (select max(as_of_date) from lifecycle_daily)"
            ).fetchall()
        )
        rfm = dict(
            ((r, f), n)
            for r, f, n in con.execute(
                "select recency_score, frequency_score, count(*) from tags_value"
                " where recency_score is not null group by 1, 2"
            ).fetchall()
        )
        retention = con.execute(
            "select cohort_week, week_number, cohort_persons, active_rate from retention_weekly order by 1, 2"
        ).fetchall()
        quality = con.execute(
            "select suite, bool_and(success), count(*), count(*) filter (where not success) from dq_results"
            " where partition_date = ? and (suite, validated_at) in (select (suite, max(validated_at))"
            " from dq_results where partition_date = ? group by suite) group by suite order by suite",
            [as_of, as_of],
        ).fetchall()
        segments = con.execute(
            "select segment, max(version), arg_max(size, published_at), arg_max(status, published_at)"
            " from segment_versions group by 1 order by 1"
        ).fetchall()
    finally:
        con.close()
    lifecycle_max = max(lifecycle.values(), default=0)
    lifecycle_rows = [
        [stage] + [_heat_span(lifecycle.get((stage, t), 0), lifecycle_max, str(lifecycle.get((stage, t), 0)))
                   for t in TIERS]
        for stage in STAGES
    ]  # fmt: skip
    rfm_max = max(rfm.values(), default=0)
    rfm_rows = [
        [f"R{r}"] + [_heat_span(rfm.get((r, f), 0), rfm_max, str(rfm.get((r, f), 0))) for f in range(1, 6)]
        for r in range(5, 0, -1)
    ]  # fmt: skip
    weeks = sorted({w for _, w, _, _ in retention})
    cohorts: dict = {}
    for cohort, week, size, rate in retention:
        cohorts.setdefault((cohort, size), {})[week] = rate
    retention_rows = [
        [str(cohort), size]
        + [_heat_span(rates[w], 1, f"{rates[w]:.0%}") if w in rates else "" for w in weeks]
        for (cohort, size), rates in sorted(cohorts.items())
    ]  # fmt: skip
    quality_rows = [
        [
            suite,
            Markup(f'<span class="{"ok" if ok else "bad"}">{"passed" if ok else "FAILED"}</span>'),
            n,
            failed,
        ]
        for suite, ok, n, failed in quality
    ]
    body = f"""<h1>fundcdp report, as of {as_of}</h1>
<p class="note">{persons:,} persons. Built from analytics.duckdb; every figure is as of the date above.</p>
<h2>Acquisition funnel (landing page → repeat purchase, within 30 days of the landing)</h2>
{_funnel_svg([int(c) for c in funnel])}
<h2>Channel quality (first touch)</h2>
{_table(["utm source", "new persons", "registrations", "accounts", "first purchases", "AUM (CNY)"],
        [[s or "-", f"{a:,.0f}", f"{b:,.0f}", f"{c:,.0f}", f"{d:,.0f}", f"{e:,.0f}"]
         for s, a, b, c, d, e in channels])}
<h2>Lifecycle stage × value tier</h2>
{_table(["stage", *TIERS], lifecycle_rows)}
<h2>RFM grid (recency score × frequency score, purchasers of 365 days)</h2>
{_table(["", *(f"F{f}" for f in range(1, 6))], rfm_rows)}
<h2>Weekly retention (share of the cohort active in week n)</h2>
{_table(["cohort week", "persons", *(f"w{w}" for w in weeks)], retention_rows, left=1)}
<h2>Data quality (Great Expectations suites for {as_of})</h2>
{_table(["suite", "result", "expectations", "failed"], quality_rows)}
<h2>Segments (latest attempt)</h2>
{_table(["segment", "latest version", "size", "status"], [[s, v, n, st] for s, v, n, st in segments])}
"""  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"fundcdp_report_{as_of}.html"
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fundcdp report {as_of}</title>'
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )
    path.write_text(document, encoding="utf-8")
    (directory / "latest.html").write_text(document, encoding="utf-8")
    # What an analyst reads: 0600 in 0700, or 0640 in 0750 with FUNDCDP_ANALYTICS_GROUP_READABLE.
    directory.chmod(analyst_dir_mode())
    for written in (path, directory / "latest.html"):
        written.chmod(analyst_file_mode())
    return path
