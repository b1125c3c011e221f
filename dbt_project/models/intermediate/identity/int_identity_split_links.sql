{{ config(materialized='table') }}
-- Links dropped when a component holding two values of a unique type was split: exactly the usable
-- links whose ends ended up in different clusters (a kept link always joins one cluster, and a dropped
-- link joined two sets holding different unique values, which no later link can merge).

with

links as (
    select * from {{ ref('int_identity_links') }}
),

clusters as (
    select * from {{ ref('int_identity_clusters') }}
),

final as (
    select links.node_a, links.node_b, links.linked_at
    from links
    inner join clusters as cluster_a on links.node_a = cluster_a.node_id
    inner join clusters as cluster_b on links.node_b = cluster_b.node_id
    where cluster_a.cluster_node_id <> cluster_b.cluster_node_id
)

select * from final
