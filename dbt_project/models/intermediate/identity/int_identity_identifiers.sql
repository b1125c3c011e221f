{{ config(materialized='table') }}
-- Every usable identifier (not junk) with when and where it was seen, its hub status and an integer
-- node id for the connected-components passes. A phone reassigned after leaving the CRM has one node
-- per epoch (identifier_epoch, int_identity_observations): each holder its own node. A unique-type
-- value (ID number) that every CRM record carrying it has since corrected is_corrected: it stays in its
-- record's person and never counts as a second value there (split_unique_conflicts).

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

final as (
    select
        row_number() over (
            order by identifiers.identifier_type, identifiers.identifier_hash, identifiers.identifier_epoch
        ) as node_id,
        identifiers.identifier_type,
        identifiers.identifier_hash,
        identifiers.identifier_epoch,
        identifiers.identifier_epoch = max(identifiers.identifier_epoch) over (
            partition by identifiers.identifier_type, identifiers.identifier_hash
        ) as is_current_epoch,
        identifiers.is_superseded
        and identifiers.identifier_type in (
            {%- for t in identity['unique_types'] %}'{{ t }}'{{ ", " if not loop.last }}{% endfor -%}
        ) as is_corrected,
        case identifiers.identifier_type
            {%- for t in identity['type_priority'] %}
            when '{{ t }}' then {{ loop.index }}
            {%- endfor %}
            else 99
        end as type_rank,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        identifiers.seen_in,
        hubs.identifier_hash is not null as is_hub,
        coalesce(hubs.max_neighbours, 0) as hub_neighbours
    from identifiers
    left join hubs
        on identifiers.identifier_type = hubs.identifier_type
        and identifiers.identifier_hash = hubs.identifier_hash
        and identifiers.identifier_epoch = hubs.identifier_epoch
)

select * from final
