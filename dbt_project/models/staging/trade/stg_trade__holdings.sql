with

source as (
    select * from {{ source('trade', 'holdings') }}
),

final as (
    select
        snapshot_date,
        fund_account_id,
        fund_code,
        shares,
        market_value as market_value_cny,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
