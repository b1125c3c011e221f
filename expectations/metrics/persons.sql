-- One row judging the identity graph as a whole, after the per-person quarantine (person_quarantine,
-- rules under vars fundcdp.quality.persons): how many persons, how many of them are quarantined (count and
-- share, capped; the share judged only beyond $quality_max_quarantined_free_persons quarantined persons), the
-- most CRM customer numbers one quarantined person holds (an over-merge of many customers is a failure of the
-- whole table, however few persons it makes), and, over the persons NOT quarantined, the largest person's identifier count and the persons
-- holding two ID-card numbers (both must be within the rules: the quarantine should have caught them); plus the
-- share of identifiers cut off as hubs.
with identifiers as (
    select person_id, identifier_type, is_corrected from person_identifiers
),
quarantined as (
    select distinct person_id from person_quarantine
),
per_person as (
    select
        person_id,
        count(*) as identifiers,
        -- an ID number corrected on its CRM record stays with the person but is not a second one
        count(*) filter (where identifier_type = 'id_number' and not is_corrected) as id_numbers
    from identifiers group by person_id
),
kept as (
    select per_person.* from per_person
    left join quarantined on quarantined.person_id = per_person.person_id
    where quarantined.person_id is null
),
hubs as (
    select count(distinct identifier_hash) as hub_identifiers from identity_conflicts
    where conflict_reason = 'hub'
)
select
    (select count(*) from persons) as persons,
    (select count(*) from quarantined) as quarantined_persons,
    (select count(*) from quarantined) * 1.0 / greatest((select count(*) from persons), 1)
        as quarantined_share,
    -- the share the gate judges: 0 while no more than the free count are quarantined (a small company's
    -- single anomaly must not block everyone)
    case
        when (select count(*) from quarantined) > $quality_max_quarantined_free_persons
            then (select count(*) from quarantined) * 1.0 / greatest((select count(*) from persons), 1)
        else 0.0
    end as judged_quarantined_share,
    (
        select coalesce(max(persons.customer_no_count), 0) from persons
        inner join quarantined on quarantined.person_id = persons.person_id
    ) as max_customer_numbers_per_quarantined_person,
    (select coalesce(max(identifiers), 0) from kept) as max_identifiers_per_person,
    (select hub_identifiers from hubs) * 1.0 / greatest((select count(*) from identifiers), 1) as hub_share,
    (select count(*) from kept where id_numbers > 1) as persons_with_two_id_numbers
