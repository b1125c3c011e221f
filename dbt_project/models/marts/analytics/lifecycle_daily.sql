-- Persons per lifecycle stage and value tier on every as-of date in tag_history (each build records one
-- date), rebuilt from the change rows: a person's value on date D is their latest row on or before D.
-- Only today's persons are counted, the population of person_profile: a person merged away (or split or
-- erased) keeps their rows in tag_history but is left out of every date, so on the as-of date the counts
-- per stage equal person_profile's (a dbt test checks it) and every date counts the same population.
with

current_persons as (
    select person_id from {{ ref('person_profile') }}
),

history as (
    select tag_history.person_id, tag_history.tag_code, tag_history.tag_value, tag_history.as_of_date
    from {{ ref('tag_history') }} as tag_history
    inner join current_persons on tag_history.person_id = current_persons.person_id
    where tag_history.tag_code in ('lifecycle_stage', 'value_tier')
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
