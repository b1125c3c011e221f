-- The CRM customers as the warehouse knew them at the end of the as-of date.
with

history as (
    select * from {{ ref('int_crm__customer_history') }}
),

final as (
    {{ as_of_version('history', ['customer_no'], var('as_of_date')) }}
)

select * from final
