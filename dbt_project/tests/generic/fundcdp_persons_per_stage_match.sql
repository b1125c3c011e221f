{#- Persons per lifecycle stage on the run's as-of date: the model's `persons` summed per stage against the
    rows of `profile` (one per person) per stage. A row per stage where the two differ. -#}
{% test fundcdp_persons_per_stage_match(model, profile) %}

with

counted as (
    select lifecycle_stage, sum(persons) as persons
    from {{ model }}
    where as_of_date = cast('{{ var("as_of_date") }}' as date)
    group by lifecycle_stage
),

profiled as (
    select lifecycle_stage, count(*) as persons
    from {{ profile }}
    group by lifecycle_stage
)

select
    coalesce(counted.lifecycle_stage, profiled.lifecycle_stage) as lifecycle_stage,
    counted.persons as counted_persons,
    profiled.persons as profile_persons
from counted
full outer join profiled
    on coalesce(counted.lifecycle_stage, '<null>') = coalesce(profiled.lifecycle_stage, '<null>')
where coalesce(counted.persons, 0) <> coalesce(profiled.persons, 0)

{% endtest %}
