-- One row per person as segment rules read them: every profile tag, the customer number exports carry and
-- marketing consent per channel as columns (is_<channel>_consented). A segment query (and the preview a
-- marketing user waits for) scans this one table instead of joining person_profile to
-- int_person_primary_customers and to int_person_consents: the two joins took most of a tag-only
-- preview's time at SF1 and grow with the customer base. Only segments read it (never published).

with

profile as (
    select * from {{ ref('person_profile') }}
),

customers as (
    select person_id, customer_no
    from {{ ref('int_person_primary_customers') }}
),

consents as (
    {{ consents_by_channel() }}
),

final as (
    select
        profile.*,
        -- a rule's event condition selects the persons of its events by this integer key (macro
        -- person_key): the semi join compares integers, not 17-character ids
        {{ fundcdp.person_key('profile.person_id') }} as person_key,
        customers.customer_no,
        {{- consented_columns('consents') }}
    from profile
    left join customers
        on customers.person_id = profile.person_id
    left join consents
        on consents.person_id = profile.person_id
)

select * from final
