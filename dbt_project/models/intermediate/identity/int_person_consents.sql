-- Marketing consent per person and channel as of the as-of date. A person merged from several CRM
-- records has consent for a channel only if every one of their customer numbers has a consent record
-- for it that is granted: the most restrictive wins, and no record (unknown) means no.
{%- set channels = var('fundcdp')['segments']['consent_channels'] %}

with

customer_numbers as (
    select person_id, identifier_hash
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'customer_no'
),

channels as (
    {%- for channel in channels %}
    select '{{ channel }}' as channel{{ " union all" if not loop.last }}
    {%- endfor %}
),

consents as (
    select
        {{ identity_hash("'customer_no'", 'customer_no') }} as identifier_hash,
        channel,
        is_consented
    from {{ ref('int_marketing_consents_as_of') }}
),

per_customer as (
    select
        customer_numbers.person_id,
        channels.channel,
        customer_numbers.identifier_hash,
        max(case when consents.is_consented then 1 else 0 end) as granted,
        count(consents.channel) as records
    from customer_numbers
    cross join channels
    left join consents
        on consents.identifier_hash = customer_numbers.identifier_hash and consents.channel = channels.channel
    group by customer_numbers.person_id, channels.channel, customer_numbers.identifier_hash
),

final as (
    select
        person_id,
        channel,
        min(case when records > 0 and granted = 1 then 1 else 0 end) = 1 as is_consented,
        cast(count(*) as bigint) as customer_numbers
    from per_customer
    group by person_id, channel
)

select * from final
