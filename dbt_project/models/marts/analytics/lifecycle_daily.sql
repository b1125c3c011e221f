-- Persons per lifecycle stage and value tier on every as-of date in tag_history (each build records one
-- date), rebuilt from the change rows: a person's value on date D is their latest row on or before D.
with

history as (
    select person_id, tag_code, tag_value, as_of_date
    from {{ ref('tag_history') }}
    where tag_code in ('lifecycle_stage', 'value_tier')
),

dates as (
    select distinct as_of_date from {{ ref('tag_history') }}
),

intervals as (
    select
        person_id,
        tag_code,
        tag_value,
        as_of_date as valid_from,
        lead(as_of_date) over (partition by person_id, tag_code order by as_of_date) as valid_to
    from history
),

states as (
    select
        dates.as_of_date,
        intervals.person_id,
        max(case when intervals.tag_code = 'lifecycle_stage' then intervals.tag_value end) as lifecycle_stage,
        max(case when intervals.tag_code = 'value_tier' then intervals.tag_value end) as value_tier
    from dates
    inner join intervals
        on intervals.valid_from <= dates.as_of_date
        and (intervals.valid_to is null or dates.as_of_date < intervals.valid_to)
    group by dates.as_of_date, intervals.person_id
),

final as (
    select
        as_of_date,
        lifecycle_stage,
        value_tier,
        cast(count(*) as bigint) as persons
    from states
    group by as_of_date, lifecycle_stage, value_tier
)

select * from final
