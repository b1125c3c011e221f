{{ config(materialized='table') }}

with

deliveries as (
    select * from {{ ref('stg_crm__marketing_consents') }}
),

final as (
    {{ versioned('deliveries', ['customer_no', 'channel']) }}
)

select * from final
