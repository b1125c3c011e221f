-- One row per source table: freshness (days from the latest event / trade / snapshot to the partition
-- date) and volume (rows loaded on the partition date against the loads before it: z-score over the
-- last 28 loads, null with fewer than 7, reported as insufficient_history).
with loads as (
    select source_system || '.' || table_name as source_table, arrival_date, sum(rows_loaded) as rows_loaded
    from main_staging.stg_ingest__load_manifests
    where load_status in ('loaded', 'corrected', 'redacted') and arrival_date <= cast($as_of_date as date)
    group by all
),
today as (
    select source_table, rows_loaded from loads where arrival_date = cast($as_of_date as date)
),
history as (
    select source_table, rows_loaded
    from (
        select *, row_number() over (partition by source_table order by arrival_date desc) as recency
        from loads where arrival_date < cast($as_of_date as date)
    )
    where recency <= 28
),
stats as (
    select source_table, count(*) as prior_loads, avg(rows_loaded) as mean_rows, stddev_samp(rows_loaded) as sd_rows
    from history group by all
),
latest as (
    -- records dated after the as-of date (client clocks) are no evidence of fresh data
    select 'tracking.events' as source_table, max(event_date) as latest_date
    from main_staging.stg_tracking__events
    where arrival_date <= cast($as_of_date as date) and event_date <= cast($as_of_date as date)
    union all
    select 'trade.trade_orders', max(coalesce(confirm_date, order_date))
    from main_staging.stg_trade__trade_orders
    where arrival_date <= cast($as_of_date as date) and coalesce(confirm_date, order_date) <= cast($as_of_date as date)
)
select
    coalesce(today.source_table, stats.source_table) as source_table,
    coalesce(today.rows_loaded, 0) as rows_loaded,
    coalesce(stats.prior_loads, 0) as prior_loads,
    case
        -- holdings are a month-end snapshot: daily volume says nothing about them
        when coalesce(today.source_table, stats.source_table) = 'trade.holdings' then null
        when coalesce(stats.prior_loads, 0) < 7 then null
        when coalesce(stats.sd_rows, 0) = 0 then case when coalesce(today.rows_loaded, 0) = stats.mean_rows then 0.0 else 99.0 end
        else (coalesce(today.rows_loaded, 0) - stats.mean_rows) / stats.sd_rows
    end as rows_z_score,
    date_diff('day', latest.latest_date, cast($as_of_date as date)) as days_since_latest_record
from today
full join stats on today.source_table = stats.source_table
left join latest on latest.source_table = coalesce(today.source_table, stats.source_table)
order by 1
