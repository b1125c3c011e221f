-- The CRM bank cards as the warehouse knew them at the end of the as-of date.
with

history as (
    select * from {{ ref('int_crm__bank_card_history') }}
),

final as (
    {{ as_of_version('history', ['card_id'], var('as_of_date')) }}
)

select * from final
