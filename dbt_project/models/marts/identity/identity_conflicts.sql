-- What ID-Mapping refused to use, and why: hubs, links dropped to split two ID numbers, junk values.
with

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
),

observations as (
    select * from {{ ref('int_identity_observations') }}
),

split_links as (
    select * from {{ ref('int_identity_split_links') }}
),

hubs as (
    select
        'hub' as conflict_reason,
        identifier_type,
        identifier_hash,
        cast(null as {{ dbt.type_string() }}) as other_identifier_type,
        cast(null as {{ dbt.type_string() }}) as other_identifier_hash,
        'linked to ' || cast(hub_neighbours as {{ dbt.type_string() }}) || ' distinct values of one person-defining type; never used for linking'
            as detail
    from identifiers
    where is_hub
),

splits as (
    select
        'unique_type_split' as conflict_reason,
        a.identifier_type,
        a.identifier_hash,
        b.identifier_type as other_identifier_type,
        b.identifier_hash as other_identifier_hash,
        'link seen ' || cast(split_links.linked_at as {{ dbt.type_string() }}) || ' would join two values of a unique type; dropped'
            as detail
    from split_links
    inner join identifiers as a on split_links.node_a = a.node_id
    inner join identifiers as b on split_links.node_b = b.node_id
),

junk as (
    select
        'junk_value' as conflict_reason,
        identifier_type,
        identifier_hash,
        cast(null as {{ dbt.type_string() }}) as other_identifier_type,
        cast(null as {{ dbt.type_string() }}) as other_identifier_hash,
        'seen ' || cast(sum(sightings) as {{ dbt.type_string() }}) || ' times; never used for linking' as detail
    from (
        select left_type as identifier_type, left_hash as identifier_hash, sightings
        from observations where is_left_junk and left_hash is not null
        union all
        select right_type, right_hash, sightings
        from observations where is_right_junk and right_hash is not null
    ) as junk_sightings
    group by identifier_type, identifier_hash
),

-- `union`, not `union all`: two epochs of a reassigned phone are two nodes but one (type, hash) here, so
-- a hub or split of both could repeat a row word for word; one row per conflict (its tested key).
final as (
    select *, cast('{{ var("as_of_date") }}' as date) as as_of_date from hubs
    union
    select *, cast('{{ var("as_of_date") }}' as date) as as_of_date from splits
    union
    select *, cast('{{ var("as_of_date") }}' as date) as as_of_date from junk
)

select * from final
