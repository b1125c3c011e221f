-- One row: the largest person's identifier count, the share of identifiers cut off as hubs, and the
-- persons holding two ID-card numbers (a split that did not happen).
with identifiers as (
    select person_id, identifier_type from main_marts.person_identifiers
),
per_person as (
    select
        person_id,
        count(*) as identifiers,
        count(*) filter (where identifier_type = 'id_number') as id_numbers
    from identifiers group by person_id
),
hubs as (
    select count(distinct identifier_hash) as hub_identifiers from main_marts.identity_conflicts
    where conflict_reason = 'hub'
)
select
    (select count(*) from per_person) as persons,
    (select coalesce(max(identifiers), 0) from per_person) as max_identifiers_per_person,
    (select hub_identifiers from hubs) * 1.0 / greatest((select count(*) from identifiers), 1) as hub_share,
    (select count(*) from per_person where id_numbers > 1) as persons_with_two_id_numbers
