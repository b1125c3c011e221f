-- Weekly retention: cohorts by the week (Monday) of a person's first valid event; for each later week,
-- how many of the cohort were active (any valid event) and how many traded (a confirmed trade).
{%- set as_of = var('as_of_date') %}

with

activity as (
    select person_id, activity_date
    from {{ ref('int_person_daily_activity') }}
    where activity_date <= cast('{{ as_of }}' as date)
),

trades as (
    select distinct person_id, confirm_date as trade_date
    from {{ ref('int_person_daily_trades') }}
    where confirm_date <= cast('{{ as_of }}' as date)
),

cohorts as (
    select person_id, cast(date_trunc('week', min(activity_date)) as date) as cohort_week
    from activity
    group by person_id
),

weekly_activity as (
    select distinct person_id, cast(date_trunc('week', activity_date) as date) as activity_week
    from activity
),

weekly_trades as (
    select distinct person_id, cast(date_trunc('week', trade_date) as date) as activity_week
    from trades
),

cohort_sizes as (
    select cohort_week, count(*) as cohort_persons from cohorts group by cohort_week
),

active as (
    select
        cohorts.cohort_week,
        cast(floor({{ days_between('cohorts.cohort_week', 'weekly_activity.activity_week') }} / 7) as integer)
            as week_number,
        count(distinct weekly_activity.person_id) as active_persons
    from cohorts
    inner join weekly_activity on cohorts.person_id = weekly_activity.person_id
    where weekly_activity.activity_week >= cohorts.cohort_week
    group by 1, 2
),

trading as (
    select
        cohorts.cohort_week,
        cast(floor({{ days_between('cohorts.cohort_week', 'weekly_trades.activity_week') }} / 7) as integer)
            as week_number,
        count(distinct weekly_trades.person_id) as trading_persons
    from cohorts
    inner join weekly_trades on cohorts.person_id = weekly_trades.person_id
    where weekly_trades.activity_week >= cohorts.cohort_week
    group by 1, 2
),

final as (
    select
        active.cohort_week,
        active.week_number,
        cast(cohort_sizes.cohort_persons as bigint) as cohort_persons,
        cast(active.active_persons as bigint) as active_persons,
        cast(coalesce(trading.trading_persons, 0) as bigint) as trading_persons,
        cast(active.active_persons * 1.0 / cohort_sizes.cohort_persons as double) as active_rate,
        cast(coalesce(trading.trading_persons, 0) * 1.0 / cohort_sizes.cohort_persons as double) as trading_rate
    from active
    inner join cohort_sizes on active.cohort_week = cohort_sizes.cohort_week
    left join trading on active.cohort_week = trading.cohort_week and active.week_number = trading.week_number
)

select * from final
