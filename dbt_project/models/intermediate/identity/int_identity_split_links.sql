{{ config(materialized='table') }}
-- depends_on: {{ ref('int_identity_identifiers') }}
-- depends_on: {{ ref('int_identity_links') }}
-- depends_on: {{ ref('int_identity_components') }}
-- Links dropped when splitting a component that held two values of a unique type.

{%- if execute %}
    {%- set assignments, dropped = fundcdp.split_unique_conflicts(
        ref('int_identity_identifiers'), ref('int_identity_links'), ref('int_identity_components')
    ) %}
{%- else %}
    {%- set assignments, dropped = [], [] %}
{%- endif %}

with

dropped as (
    {{ fundcdp.inline_rows(dropped, ['node_a', 'node_b', 'linked_at'], ['bigint', 'bigint', 'timestamp']) }}
),

final as (
    select node_a, node_b, linked_at from dropped
)

select * from final
