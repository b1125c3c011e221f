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

-- a dropped link's two identifiers, the first in (type, hash, epoch) order (node ids have no meaningful order)
split_ends as (
    select
        split_links.linked_at,
        a.identifier_type < b.identifier_type
        or (a.identifier_type = b.identifier_type and a.identifier_hash < b.identifier_hash)
        or (a.identifier_type = b.identifier_type and a.identifier_hash = b.identifier_hash
            and a.identifier_epoch < b.identifier_epoch) as a_first,
        a.identifier_type as a_type,
        a.identifier_hash as a_hash,
        b.identifier_type as b_type,
        b.identifier_hash as b_hash
    from split_links
    inner join identifiers as a on split_links.node_a = a.node_id
    inner join identifiers as b on split_links.node_b = b.node_id
),

splits as (
    select
        'unique_type_split' as conflict_reason,
        case when a_first then a_type else b_type end as identifier_type,
        case when a_first then a_hash else b_hash end as identifier_hash,
        case when a_first then b_type else a_type end as other_identifier_type,
        case when a_first then b_hash else a_hash end as other_identifier_hash,
        'link seen ' || cast(linked_at as {{ dbt.type_string() }}) || ' would join two values of a unique type; dropped'
            as detail
    from split_ends
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
