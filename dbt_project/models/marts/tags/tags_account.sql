{{ config(pre_hook="{% do fundcdp.keep_previous_tags() %}") }}
-- Dimension 2, account features: one row per person, as of var('as_of_date'), from the CRM as valid on
-- that day (int_*_as_of) and the SIP agreements delivered by then.
{%- set as_of = var('as_of_date') %}
{%- set tags = var('fundcdp')['tags'] %}
{%- set as_of_date = "cast('" ~ as_of ~ "' as date)" %}

with

persons as (
    select person_id from {{ ref('persons') }}
),

customers as (
    select * from {{ ref('int_person_customers') }}
),

customer_numbers as (
    select person_id, identifier_hash
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'customer_no'
),

cards as (
    select customer_numbers.person_id, count(distinct cards.card_id) as bound_card_count
    from {{ ref('int_bank_cards_as_of') }} as cards
    inner join customer_numbers
        on {{ identity_hash("'customer_no'", 'cards.customer_no') }} = customer_numbers.identifier_hash
    where cards.card_status = 'bound'
    group by customer_numbers.person_id
),

consents as (
    select
        customer_numbers.person_id,
        max(case when consents.consent_status = 'withdrawn' then 1 else 0 end) = 1 as has_opted_out
    from {{ ref('int_marketing_consents_as_of') }} as consents
    inner join customer_numbers
        on {{ identity_hash("'customer_no'", 'consents.customer_no') }} = customer_numbers.identifier_hash
    group by customer_numbers.person_id
),

sip_versions as (
    select
        *,
        row_number() over (
            partition by sip_agreement_id
            order by updated_at desc, arrival_date desc, source_file desc, source_line desc
        ) as version_rank
    from {{ ref('stg_trade__sip_agreements') }}
    where arrival_date <= {{ as_of_date }} and cast(updated_at as date) <= {{ as_of_date }}
),

sips as (
    select
        account_persons.person_id,
        sum(case when sip_versions.sip_status = 'active' then 1 else 0 end) as sip_active_count,
        sum(case when sip_versions.sip_status = 'paused' then 1 else 0 end) as sip_paused_count,
        sum(case when sip_versions.sip_status = 'stopped' then 1 else 0 end) as sip_stopped_count,
        max(case when sip_versions.sip_status = 'stopped' then sip_versions.status_changed_date end)
            as last_sip_stopped_date
    from sip_versions
    inner join {{ ref('int_identity_persons') }} as account_persons
        on account_persons.identifier_type = 'fund_account_id'
        and {{ identity_hash("'fund_account_id'", 'sip_versions.fund_account_id') }} = account_persons.identifier_hash
    where sip_versions.version_rank = 1
    group by account_persons.person_id
),

final as (
    select
        persons.person_id,
        cast({{ days_between('customers.open_date', as_of_date) }} as bigint) as account_age_days,
        customers.kyc_status,
        customers.risk_level,
        customers.risk_assessed_date,
        {{ days_before('customers.risk_assessed_date', -tags['risk_assessment_valid_days']) }}
            as risk_assessment_expires_on,
        cast(coalesce(cards.bound_card_count, 0) as bigint) as bound_card_count,
        cast(coalesce(sips.sip_active_count, 0) as bigint) as sip_active_count,
        cast(coalesce(sips.sip_paused_count, 0) as bigint) as sip_paused_count,
        cast(coalesce(sips.sip_stopped_count, 0) as bigint) as sip_stopped_count,
        sips.last_sip_stopped_date,
        coalesce(consents.has_opted_out, false) as has_opted_out_of_marketing,
        {{ as_of_date }} as as_of_date
    from persons
    left join customers on persons.person_id = customers.person_id
    left join cards on persons.person_id = cards.person_id
    left join consents on persons.person_id = consents.person_id
    left join sips on persons.person_id = sips.person_id
)

select * from final
