with

source as (
    select * from {{ source('crm', 'bank_cards') }}
),

final as (
    select
        card_id,
        customer_no,
        bank_name,
        card_number_hash,
        is_card_number_valid,
        card_bin,
        cast(bound_at as timestamp) as bound_at,
        card_status,
        cast(updated_at as timestamp) as updated_at,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
