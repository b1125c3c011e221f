-- The one place where flagged events are removed: everything downstream counts only these.
with

events as (
    select * from {{ ref('stg_tracking__events') }}
),

final as (
    select *
    from events
    where exclusion_reason is null
)

select * from final
