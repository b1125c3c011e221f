with

source as (
    select * from {{ source('trade', 'trade_orders') }}
),

final as (
    select
        order_id,
        fund_account_id,
        fund_code,
        trade_type,
        cast(order_at as timestamp) as order_at,
        cast(order_at as date) as order_date,
        confirm_date,
        order_status,
        amount as amount_cny,
        shares,
        nav,
        fee as fee_cny,
        target_fund_code,
        sip_agreement_id,
        channel,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
