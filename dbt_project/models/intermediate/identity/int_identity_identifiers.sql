{{ config(materialized='table') }}
-- Every usable identifier (not junk) with when and where it was seen, its hub status and an integer
-- node id for the connected-components passes: its node key (macro identity_node_key, computed from the
-- identifier itself, so int_identity_links needs no lookup), or -1, -2, ... for nodes sharing a key.
-- A phone reassigned after leaving the CRM has one node per epoch (identifier_epoch,
-- int_identity_observations): each holder its own node. A unique-type value (ID number) that every CRM
-- record carrying it has since corrected is_corrected: it stays in its record's person and never counts
-- as a second value there (split_unique_conflicts).

{%- set identity = var('fundcdp')['identity'] %}

with

observations as (
    select * from {{ ref('int_identity_observations') }}
),

-- Left identifiers are system ids (customer number, login, fund account): never reassigned, epoch 0.
sides as (
    select
        left_type as identifier_type, left_hash as identifier_hash, 0 as identifier_epoch, false as is_superseded,
        seen_in, first_seen_at, last_seen_at
    from observations
    where not is_left_junk
    union all
    select right_type, right_hash, right_epoch, is_right_superseded, seen_in, first_seen_at, last_seen_at
    from observations
    where not is_right_junk
),

identifiers as (
    select
        identifier_type,
        identifier_hash,
        identifier_epoch,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ distinct_list('seen_in') }} as seen_in,
        min(case when is_superseded then 1 else 0 end) = 1 as is_superseded
    from sides
    group by identifier_type, identifier_hash, identifier_epoch
),

links as (
    select left_type, left_hash, 0 as left_epoch, right_type, right_hash, right_epoch
    from observations
    where not is_left_junk and not is_right_junk
),

neighbours as (
    select
        left_type as identifier_type, left_hash as identifier_hash, left_epoch as identifier_epoch,
        right_type as neighbour_type, right_hash as neighbour_hash, right_epoch as neighbour_epoch
    from links
    union all
    select right_type, right_hash, right_epoch, left_type, left_hash, left_epoch
    from links
),

-- A hub links more distinct values of a person-defining type than one person can have (each epoch of
-- a reassigned phone is judged on its own links).
hubs as (
    select identifier_type, identifier_hash, identifier_epoch, max(neighbour_count) as max_neighbours
    from (
        select
            identifier_type, identifier_hash, identifier_epoch, neighbour_type,
            count(distinct neighbour_hash) as neighbour_count
        from neighbours
        where neighbour_type in (
            {%- for t in identity['hub_neighbour_types'] %}'{{ t }}'{{ ", " if not loop.last }}{% endfor -%}
        )
        group by identifier_type, identifier_hash, identifier_epoch, neighbour_type
    ) as counted
    where neighbour_count > {{ identity['hub_max_links'] }}
    group by identifier_type, identifier_hash, identifier_epoch
),

-- the latest epoch of each identifier seen in more than one (a reassigned phone): the few whose current
-- epoch is not 0
reassigned as (
    select identifier_type, identifier_hash, max(identifier_epoch) as current_epoch
    from identifiers
    where identifier_epoch > 0
    group by identifier_type, identifier_hash
),

keyed as (
    select
        identifiers.*,
        {{ fundcdp.identity_node_key('identifier_type', 'identifier_hash', 'identifier_epoch') }} as node_key
    from identifiers
),

-- Two nodes may share a key (60 bits of hash): those are numbered -1, -2, ... in (type, hash, epoch)
-- order; every other node's id is its key (no lookup by the identifier's strings).
shared_keys as (
    select node_key from keyed group by node_key having count(*) > 1
),

numbered as (
    select node_key as node_id, keyed.*
    from keyed
    where node_key not in (select node_key from shared_keys)
    union all
    select -row_number() over (order by identifier_type, identifier_hash, identifier_epoch) as node_id, keyed.*
    from keyed
    where node_key in (select node_key from shared_keys)
),

final as (
    select
        nodes.node_id,
        nodes.node_key,
        nodes.identifier_type,
        nodes.identifier_hash,
        nodes.identifier_epoch,
        nodes.identifier_epoch = coalesce(reassigned.current_epoch, 0) as is_current_epoch,
        nodes.is_superseded
        and nodes.identifier_type in (
            {%- for t in identity['unique_types'] %}'{{ t }}'{{ ", " if not loop.last }}{% endfor -%}
        ) as is_corrected,
        {{ fundcdp.identifier_type_rank('nodes.identifier_type') }} as type_rank,
        nodes.first_seen_at,
        nodes.last_seen_at,
        nodes.seen_in,
        hubs.identifier_hash is not null as is_hub,
        coalesce(hubs.max_neighbours, 0) as hub_neighbours
    from numbered as nodes
    left join reassigned
        on nodes.identifier_type = reassigned.identifier_type
        and nodes.identifier_hash = reassigned.identifier_hash
    left join hubs
        on nodes.identifier_type = hubs.identifier_type
        and nodes.identifier_hash = hubs.identifier_hash
        and nodes.identifier_epoch = hubs.identifier_epoch
)

select * from final
