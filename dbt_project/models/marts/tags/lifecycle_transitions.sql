-- Lifecycle stage changes: one row per person and change (from stage, to stage, the as-of date on which
-- the new stage was first recorded), from tag_history. Count mature -> dormant with
-- `select count(*) from lifecycle_transitions where from_stage = 'mature' and to_stage = 'dormant'`.
with

changes as (
    select person_id, previous_value, tag_value, as_of_date
    from {{ ref('tag_history') }}
    where tag_code = 'lifecycle_stage' and had_previous_value
),

final as (
    select
        person_id,
        previous_value as from_stage,
        tag_value as to_stage,
        as_of_date as transition_date
    from changes
)

select * from final
