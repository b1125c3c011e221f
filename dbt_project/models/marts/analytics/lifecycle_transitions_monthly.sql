-- Lifecycle transitions per month (of the as-of date that recorded them): from stage -> to stage.
with

transitions as (
    select * from {{ ref('lifecycle_transitions') }}
),

final as (
    select
        cast(date_trunc('month', transition_date) as date) as transition_month,
        from_stage,
        to_stage,
        cast(count(*) as bigint) as transitions,
        cast(count(distinct person_id) as bigint) as persons
    from transitions
    group by cast(date_trunc('month', transition_date) as date), from_stage, to_stage
)

select * from final
