{{ config(materialized='table', post_hook="drop table if exists {{ this.schema }}.__cc_result_{{ this.identifier }}") }}
-- depends_on: {{ ref('int_identity_identifiers') }}
-- depends_on: {{ ref('int_identity_links') }}
-- Connected components of the usable identifier graph (hubs are left out and stay alone), computed
-- by the connected_components macro in O(log n) SQL passes. `passes` is logged and kept here.

{%- set components = api.Relation.create(
    database=this.database, schema=this.schema, identifier='__cc_result_' ~ this.identifier, type='table'
) %}
{%- if execute %}
    {%- do fundcdp.connected_components(
        'select node_id as node from ' ~ ref('int_identity_identifiers') ~ ' where not is_hub',
        'select node_a as a, node_b as b from ' ~ ref('int_identity_links'),
        components
    ) %}
{%- endif %}

with

components as (
    select * from {{ components }}
),

final as (
    select
        node as node_id,
        component as component_node_id,
        passes
    from components
)

select * from final
