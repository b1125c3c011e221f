{{ config(materialized='table') }}

with

deliveries as (
    select * from {{ ref('stg_crm__customers') }}
),

final as (
    {{ versioned('deliveries', ['customer_no']) }}
)

select * from final
