with

resolved as (
    select * from {{ ref('int_identity_persons') }}
),

final as (
    select
        person_id,
        identifier_type,
        identifier_hash,
        first_seen_at,
        last_seen_at,
        seen_in as sources,
        is_corrected
    from resolved
)

select * from final
