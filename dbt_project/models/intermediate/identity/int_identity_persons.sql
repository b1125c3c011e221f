{{ config(materialized='table') }}
-- Each usable identifier with its person. A person's id derives from its anchor: the earliest-seen
-- identifier, ties broken by type priority then hash. So ids are the same on every run and clean
-- rebuild, and when two people merge the older one's id survives.
-- A reassigned phone has a node per epoch (int_identity_identifiers): every epoch takes part in
-- clustering and anchoring (the old holder keeps its id), but only the current epoch is listed here,
-- with its current holder. An anchor of a later epoch derives the id from "type:hash#epoch", so the
-- new holder never takes the old holder's id. A corrected ID number stays listed with its person
-- (is_corrected).

with

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
    where not is_hub
),

clusters as (
    select * from {{ ref('int_identity_clusters') }}
),

ranked as (
    select
        identifiers.*,
        clusters.cluster_node_id,
        clusters.is_in_split_component,
        row_number() over (
            partition by clusters.cluster_node_id
            order by identifiers.first_seen_at, identifiers.type_rank, identifiers.identifier_hash,
                identifiers.identifier_epoch
        ) as anchor_rank
    from identifiers
    inner join clusters on identifiers.node_id = clusters.node_id
),

anchors as (
    select
        cluster_node_id,
        identifier_type as anchor_type,
        identifier_hash as anchor_hash,
        identifier_epoch as anchor_epoch,
        {{ person_id_from_anchor('identifier_type', 'identifier_hash', 'identifier_epoch') }} as person_id
    from ranked
    where anchor_rank = 1
),

final as (
    select
        anchors.person_id,
        ranked.identifier_type,
        ranked.identifier_hash,
        ranked.first_seen_at,
        ranked.last_seen_at,
        ranked.seen_in,
        ranked.node_id,
        anchors.anchor_type,
        anchors.anchor_hash,
        anchors.anchor_epoch,
        ranked.is_in_split_component,
        ranked.is_corrected
    from ranked
    inner join anchors on ranked.cluster_node_id = anchors.cluster_node_id
    where ranked.is_current_epoch
)

select * from final
