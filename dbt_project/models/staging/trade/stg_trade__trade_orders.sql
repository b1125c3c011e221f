-- exclusion_reason flags a row that is kept but never counted (the pattern of stg_tracking__events):
-- 'non_positive_amount' for a confirmed order of vars fundcdp.trade.non_positive_amount_trade_types with
-- amount <= 0. Every trade count, amount and contact downstream reads `exclusion_reason is null`.
{%- set non_positive_types = var('fundcdp')['trade']['non_positive_amount_trade_types'] %}

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
        case
            when order_status = 'confirmed'
                and trade_type in (
                    {%- for trade_type in non_positive_types %}{{ fundcdp.sql_string(trade_type) }}{{ ", " if not loop.last }}{% endfor -%}
                )
                and amount <= 0
                then 'non_positive_amount'
        end as exclusion_reason,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
