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

-- a person's weeks with any valid event (active) and with a confirmed trade (trading)
weekly as (
    select distinct person_id, cast(date_trunc('week', activity_date) as date) as activity_week, 'active' as kind
    from activity
    union all
    select distinct person_id, cast(date_trunc('week', trade_date) as date) as activity_week, 'trading' as kind
    from trades
),

cohort_sizes as (
    select cohort_week, count(*) as cohort_persons from cohorts group by cohort_week
),

retained as (
    select
        cohorts.cohort_week,
        cast(floor({{ days_between('cohorts.cohort_week', 'weekly.activity_week') }} / 7) as integer)
            as week_number,
        count(distinct case when weekly.kind = 'active' then weekly.person_id end) as active_persons,
        count(distinct case when weekly.kind = 'trading' then weekly.person_id end) as trading_persons
    from cohorts
    inner join weekly on cohorts.person_id = weekly.person_id
    where weekly.activity_week >= cohorts.cohort_week
    group by 1, 2
),

final as (
    select
        retained.cohort_week,
        retained.week_number,
        cast(cohort_sizes.cohort_persons as bigint) as cohort_persons,
        cast(retained.active_persons as bigint) as active_persons,
        cast(retained.trading_persons as bigint) as trading_persons,
        cast(retained.active_persons * 1.0 / cohort_sizes.cohort_persons as double) as active_rate,
        cast(retained.trading_persons * 1.0 / cohort_sizes.cohort_persons as double) as trading_rate
    from retained
    inner join cohort_sizes on retained.cohort_week = cohort_sizes.cohort_week
    -- a row per week in which someone of the cohort was active
    where retained.active_persons > 0
)

select * from final
