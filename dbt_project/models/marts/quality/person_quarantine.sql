-- Persons quarantined by a per-person quality rule (vars: fundcdp: quality: persons:), one row per person
-- and reason. A quarantined person is left out of every segment (exclusion reason `quarantined`), listed
-- here for stewardship (published to analysts under published ids) and alerted; the persons gate judges
-- everyone else, and fails for the whole table only beyond the quarantine caps (docs/quality.md).
--   oversized_identity              more usable identifiers than max_identifiers_per_person
--   conflicting_unique_identifiers  more than one value of a unique identifier type (identity.unique_types),
--                                   which the identity split should have prevented: conflicting records
{%- set rules = var('fundcdp')['quality']['persons'] %}
{%- set max_identifiers = rules['max_identifiers_per_person'] | int %}
{%- set unique_types = var('fundcdp')['identity']['unique_types'] %}

with

persons as (
    select * from {{ ref('persons') }}
),

oversized as (
    select
        person_id,
        'oversized_identity' as quarantine_reason,
        identifier_count,
        cast(identifier_count as {{ dbt.type_string() }})
            || ' identifiers in one person; at most {{ max_identifiers }} (quality.persons.max_identifiers_per_person)'
            as detail
    from persons
    where identifier_count > {{ max_identifiers }}
),

conflicting as (
    {%- for identifier_type in unique_types %}
    select
        person_id,
        'conflicting_unique_identifiers' as quarantine_reason,
        identifier_count,
        cast({{ identifier_type }}_count as {{ dbt.type_string() }})
            || ' values of {{ identifier_type }}, a unique type (identity.unique_types)' as detail
    from persons
    where {{ identifier_type }}_count > 1
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        person_id,
        'conflicting_unique_identifiers' as quarantine_reason,
        identifier_count,
        cast(null as {{ dbt.type_string() }}) as detail
    from persons
    where 1 = 0
    {%- endfor %}
),

final as (
    select
        person_id,
        quarantine_reason,
        cast(identifier_count as {{ dbt.type_bigint() }}) as identifier_count,
        detail,
        cast('{{ var("as_of_date") }}' as date) as as_of_date
    from oversized
    union all
    select
        person_id,
        quarantine_reason,
        cast(identifier_count as {{ dbt.type_bigint() }}) as identifier_count,
        detail,
        cast('{{ var("as_of_date") }}' as date) as as_of_date
    from conflicting
)

select * from final
