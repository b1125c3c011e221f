{{ config(
    materialized='table',
    pre_hook="{{ fundcdp.build_identity_components() }}",
    post_hook="drop table if exists {{ fundcdp.identity_components_result() }}",
) }}
-- depends_on: {{ ref('int_identity_identifiers') }}
-- depends_on: {{ ref('int_identity_links') }}
-- Connected components of the usable identifier graph (hubs are left out and stay alone). The pre-hook
-- (macro build_identity_components) computes them in O(log n) SQL passes into a scratch table when dbt
-- runs the model; the post-hook drops it. `passes` is logged and kept here.

with

components as (
    select * from {{ fundcdp.identity_components_result() }}
),

final as (
    select
        node as node_id,
        component as component_node_id,
        passes
    from components
)

select * from final
