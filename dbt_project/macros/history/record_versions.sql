{#- Validity intervals over delivered versions of a CRM record: valid_from = the version's updated_at,
    valid_to = the next version's updated_at (exclusive; null for the current version). Ties are
    broken by delivery (arrival date, file, line), so a corrected re-statement wins. -#}
{% macro versioned(relation, key_columns) -%}
{%- set keys = key_columns | join(', ') -%}
{%- set delivery_order = 'updated_at, arrival_date, source_file, source_line' -%}
select
    versions.*,
    versions.updated_at as valid_from,
    lead(versions.updated_at) over (partition by {{ keys }} order by {{ delivery_order }}) as valid_to,
    row_number() over (partition by {{ keys }} order by {{ delivery_order }}) as version_number,
    row_number() over (partition by {{ keys }} order by {{ delivery_order | replace(',', ' desc,') }} desc) = 1
        as is_latest_known
from {{ relation }} as versions
{%- endmacro %}

{#- The version of each record valid at the end of day `as_of_date`, using only versions that had
    arrived by then: what the warehouse knew on that day, reproducible later. -#}
{% macro as_of_version(relation, key_columns, as_of_date) -%}
{%- set keys = key_columns | join(', ') -%}
select * from (
    select
        history.*,
        row_number() over (
            partition by {{ keys }}
            order by valid_from desc, arrival_date desc, source_file desc, source_line desc
        ) as as_of_rank
    from {{ relation }} as history
    where history.arrival_date <= cast('{{ as_of_date }}' as date)
        and cast(history.valid_from as date) <= cast('{{ as_of_date }}' as date)
) as known
where as_of_rank = 1
{%- endmacro %}
