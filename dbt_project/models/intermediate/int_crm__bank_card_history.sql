{{ config(materialized='table') }}

with

deliveries as (
    select * from {{ ref('stg_crm__bank_cards') }}
),

final as (
    {{ versioned('deliveries', ['card_id']) }}
)

select * from final
