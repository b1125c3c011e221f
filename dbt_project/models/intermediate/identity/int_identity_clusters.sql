{{ config(materialized='table') }}
-- depends_on: {{ ref('int_identity_identifiers') }}
-- depends_on: {{ ref('int_identity_links') }}
-- Final clusters: components, except that a component holding two values of a unique type (two ID
-- numbers) is split by replaying its links newest first (macro split_unique_conflicts).

{%- if execute %}
    {%- set assignments = fundcdp.split_unique_conflicts(
        ref('int_identity_identifiers'), ref('int_identity_links'), ref('int_identity_components')
    ) %}
{%- else %}
    {%- set assignments = [] %}
{%- endif %}

with

components as (
    select * from {{ ref('int_identity_components') }}
),

split_assignments as (
    {{ fundcdp.inline_rows(assignments, ['node_id', 'cluster_node_id'], ['bigint', 'bigint']) }}
),

final as (
    select
        components.node_id,
        components.component_node_id,
        coalesce(split_assignments.cluster_node_id, components.component_node_id) as cluster_node_id,
        split_assignments.node_id is not null as is_in_split_component,
        components.passes
    from components
    left join split_assignments on components.node_id = split_assignments.node_id
)

select * from final
