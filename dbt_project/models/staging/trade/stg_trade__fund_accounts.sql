with

source as (
    select * from {{ source('trade', 'fund_accounts') }}
),

final as (
    select
        fund_account_id,
        customer_no,
        open_date,
        open_channel,
        account_status,
        cast(updated_at as timestamp) as updated_at,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
