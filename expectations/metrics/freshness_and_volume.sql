-- One row per source table: freshness and volume against the partition (as-of) date.
-- Freshness: how long since the table's latest event / trade. Tracking is counted in calendar days (apps
-- are used on weekends and holidays); the trade system in trading days, because trades happen only then:
-- weekdays that are not in $quality_non_trading_days (the exchange closures, bound as a DATE list, never
-- SQL text), so a Spring Festival week is as silent as a weekend and neither counts.
-- Volume: the rows loaded on the partition date against the table's own last $quality_history_loads
-- delivery days that loaded rows, its first (initial full) delivery left out (z-score; null with fewer
-- than $quality_min_history_loads of them, reported as insufficient_history), judged only when also
-- beyond $quality_max_change_factor times the mean. A day on which a table loaded no rows (nothing
-- delivered, an empty file, a weekly source between deliveries) has no volume to judge: silence is the
-- freshness row's business. Thresholds: vars fundcdp quality freshness_and_volume.
with loads as (
    select source_system || '.' || table_name as source_table, arrival_date, sum(rows_loaded) as rows_loaded
    from stg_ingest__load_manifests
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
        from (select *, min(arrival_date) over (partition by source_table) as first_delivery from loads)
        -- a table's first delivery is its initial full load, not a day's volume
        where arrival_date < cast($as_of_date as date) and arrival_date > first_delivery and rows_loaded > 0
    )
    where recency <= $quality_history_loads
),
stats as (
    select source_table, count(*) as prior_loads, avg(rows_loaded) as mean_rows, stddev_samp(rows_loaded) as sd_rows
    from history group by all
),
latest as (
    -- records dated after the as-of date (client clocks) are no evidence of fresh data
    select 'tracking.events' as source_table, false as is_judged_in_trading_days, max(event_date) as latest_date
    from stg_tracking__events
    where arrival_date <= cast($as_of_date as date) and event_date <= cast($as_of_date as date)
    union all
    select 'trade.trade_orders', true, max(coalesce(confirm_date, order_date))
    from stg_trade__trade_orders
    where arrival_date <= cast($as_of_date as date) and coalesce(confirm_date, order_date) <= cast($as_of_date as date)
),
non_trading_days as (
    select unnest(cast($quality_non_trading_days as date[])) as calendar_date
),
days_after_latest as (
    -- each calendar day after a trade-system table's latest record, up to and including the as-of date
    select
        source_table,
        cast(unnest(generate_series(
            latest_date + interval 1 day, cast($as_of_date as timestamp), interval 1 day
        )) as date) as calendar_date
    from latest
    where is_judged_in_trading_days
),
trading_days_after_latest as (
    -- weekends are never trading days (a make-up working Saturday included: the exchanges stay closed)
    select source_table, count(*) as trading_days
    from days_after_latest
    where isodow(calendar_date) <= 5
        and not exists (
            select 1 from non_trading_days where non_trading_days.calendar_date = days_after_latest.calendar_date
        )
    group by all
),
judged as (
    select
        coalesce(today.source_table, stats.source_table) as source_table,
        coalesce(today.rows_loaded, 0) as rows_loaded,
        coalesce(stats.prior_loads, 0) as prior_loads,
        stats.mean_rows,
        case
            -- holdings are a month-end snapshot: daily volume says nothing about them
            when coalesce(today.source_table, stats.source_table) = 'trade.holdings' then null
            when coalesce(today.rows_loaded, 0) = 0 then null
            when coalesce(stats.prior_loads, 0) < $quality_min_history_loads then null
            when coalesce(stats.sd_rows, 0) = 0 then case when today.rows_loaded = stats.mean_rows then 0.0 else 99.0 end
            else (today.rows_loaded - stats.mean_rows) / stats.sd_rows
        end as rows_z_score
    from today
    full join stats on today.source_table = stats.source_table
)
select
    judged.source_table,
    judged.rows_loaded,
    judged.prior_loads,
    judged.rows_z_score,
    judged.rows_loaded / nullif(judged.mean_rows, 0) as rows_to_mean,
    -- judged only when today is also more than $quality_max_change_factor times off the mean either way:
    -- with a steady history a quarter-end day doubling the CRM changes is many standard deviations out,
    -- yet ordinary business
    case
        when judged.rows_loaded > $quality_max_change_factor * judged.mean_rows
            or judged.rows_loaded * $quality_max_change_factor < judged.mean_rows
            then abs(judged.rows_z_score)
    end as rows_abs_z_score,
    latest.latest_date as latest_record_date,
    -- judged against max_days_since_latest_record (calendar days): null for tables judged in trading days
    case
        when not latest.is_judged_in_trading_days
            then date_diff('day', latest.latest_date, cast($as_of_date as date))
    end as days_since_latest_record,
    -- judged against max_trading_days_since_latest_record: trading days after the latest record up to the
    -- as-of date (0: a record on the as-of date, or only weekends and closures since)
    case
        when latest.is_judged_in_trading_days and latest.latest_date is not null
            then coalesce(trading_days_after_latest.trading_days, 0)
    end as trading_days_since_latest_record
from judged
left join latest on latest.source_table = judged.source_table
left join trading_days_after_latest on trading_days_after_latest.source_table = judged.source_table
order by 1
