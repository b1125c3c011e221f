{{ config(materialized='table') }}
-- Links usable for ID-Mapping: both identifiers usable (not junk) and neither a hub, as node ids (a
-- reassigned phone's link goes to the node of its epoch).

with

observations as (
    select * from {{ ref('int_identity_observations') }}
),

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
),

final as (
    select
        least(l.node_id, r.node_id) as node_a,
        greatest(l.node_id, r.node_id) as node_b,
        min(observations.first_seen_at) as linked_at,
        max(observations.last_seen_at) as last_linked_at,
        {{ distinct_list('observations.seen_in') }} as link_sources
    from observations
    inner join identifiers as l
        on observations.left_type = l.identifier_type
        and observations.left_hash = l.identifier_hash
        and l.identifier_epoch = 0
    inner join identifiers as r
        on observations.right_type = r.identifier_type
        and observations.right_hash = r.identifier_hash
        and observations.right_epoch = r.identifier_epoch
    where not observations.is_left_junk
        and not observations.is_right_junk
        and not l.is_hub
        and not r.is_hub
        and l.node_id <> r.node_id
    group by least(l.node_id, r.node_id), greatest(l.node_id, r.node_id)
)

select * from final
