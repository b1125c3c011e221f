{{ config(materialized='table') }}
-- Links usable for ID-Mapping: both identifiers usable (not junk) and neither a hub, as node ids (a
-- reassigned phone's link goes to the node of its epoch). A link's ends are computed from its
-- identifiers (macro identity_node_key); only the few nodes whose id is not their key (two sharing a key)
-- or that are hubs are looked up in int_identity_identifiers.

with

observations as (
    select * from {{ ref('int_identity_observations') }}
),

-- the nodes a link's computed keys cannot tell alone
exceptions as (
    select identifier_type, identifier_hash, identifier_epoch, node_key, node_id, is_hub
    from {{ ref('int_identity_identifiers') }}
    where is_hub or node_id <> node_key
),

keyed as (
    select
        left_type,
        left_hash,
        {{ fundcdp.identity_node_key('left_type', 'left_hash', '0') }} as left_key,
        right_type,
        right_hash,
        right_epoch,
        {{ fundcdp.identity_node_key('right_type', 'right_hash', 'right_epoch') }} as right_key,
        first_seen_at,
        last_seen_at,
        seen_in
    from observations
    where not is_left_junk and not is_right_junk
),

resolved as (
    select
        coalesce(l.node_id, keyed.left_key) as left_node,
        coalesce(r.node_id, keyed.right_key) as right_node,
        coalesce(l.is_hub, false) or coalesce(r.is_hub, false) as touches_hub,
        keyed.first_seen_at,
        keyed.last_seen_at,
        keyed.seen_in
    from keyed
    left join exceptions as l
        on keyed.left_key = l.node_key
        and keyed.left_type = l.identifier_type
        and keyed.left_hash = l.identifier_hash
        and l.identifier_epoch = 0
    left join exceptions as r
        on keyed.right_key = r.node_key
        and keyed.right_type = r.identifier_type
        and keyed.right_hash = r.identifier_hash
        and keyed.right_epoch = r.identifier_epoch
),

final as (
    select
        least(left_node, right_node) as node_a,
        greatest(left_node, right_node) as node_b,
        min(first_seen_at) as linked_at,
        max(last_seen_at) as last_linked_at,
        {{ distinct_list('seen_in') }} as link_sources
    from resolved
    where not touches_hub
        and left_node <> right_node
    group by least(left_node, right_node), greatest(left_node, right_node)
)

select * from final
