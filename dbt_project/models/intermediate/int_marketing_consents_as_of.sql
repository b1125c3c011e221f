-- The CRM marketing consents as the warehouse knew them at the end of the as-of date.
with

history as (
    select * from {{ ref('int_crm__marketing_consent_history') }}
),

final as (
    {{ as_of_version('history', ['customer_no', 'channel'], var('as_of_date')) }}
)

select * from final
