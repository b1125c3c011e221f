{{ config(materialized='table') }}
-- Every usable identifier (not junk) with when and where it was seen, its hub status and an integer
-- node id for the connected-components passes.

{%- set identity = var('fundcdp')['identity'] %}

with

observations as (
    select * from {{ ref('int_identity_observations') }}
),

sides as (
    select left_type as identifier_type, left_hash as identifier_hash, seen_in, first_seen_at, last_seen_at
    from observations
    where not is_left_junk
    union all
    select right_type, right_hash, seen_in, first_seen_at, last_seen_at
    from observations
    where not is_right_junk
),

identifiers as (
    select
        identifier_type,
        identifier_hash,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ distinct_list('seen_in') }} as seen_in
    from sides
    group by identifier_type, identifier_hash
),

links as (
    select left_type, left_hash, right_type, right_hash
    from observations
    where not is_left_junk and not is_right_junk
),

neighbours as (
    select left_type as identifier_type, left_hash as identifier_hash, right_type as neighbour_type,
        right_hash as neighbour_hash
    from links
    union all
    select right_type, right_hash, left_type, left_hash
    from links
),

-- A hub links more distinct values of a person-defining type than one person can have.
hubs as (
    select identifier_type, identifier_hash, max(neighbour_count) as max_neighbours
    from (
        select identifier_type, identifier_hash, neighbour_type, count(distinct neighbour_hash) as neighbour_count
        from neighbours
        where neighbour_type in (
            {%- for t in identity['hub_neighbour_types'] %}'{{ t }}'{{ ", " if not loop.last }}{% endfor -%}
        )
        group by identifier_type, identifier_hash, neighbour_type
    ) as counted
    where neighbour_count > {{ identity['hub_max_links'] }}
    group by identifier_type, identifier_hash
),

final as (
    select
        row_number() over (order by identifiers.identifier_type, identifiers.identifier_hash) as node_id,
        identifiers.identifier_type,
        identifiers.identifier_hash,
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
)

select * from final
