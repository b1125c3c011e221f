{{ config(materialized='incremental', on_schema_change='fail', meta={'day_column': 'confirm_date'},
    pre_hook="{% do fundcdp.daily_account_trades_restatement(apply=true) %}",
    **fundcdp.daily_aggregate_config('confirm_date')) }}
-- depends_on: {{ ref('stg_trade__trade_orders') }}
-- Confirmed trades (not flagged with an exclusion_reason) per fund account, fund, trade type and confirmation day (latest delivered version of
-- each order). Incremental by day: a corrected order re-delivered later restates its old and new days.
{%- set as_of = var('as_of_date') %}
-- Rendering only reads (which days to restate); the pre-hook deletes their rows when dbt runs the model.
{%- set window = fundcdp.daily_account_trades_restatement() %}

with

orders as (
    select fund_account_id, fund_code, trade_type, amount_cny, shares, confirm_date
    from {{ ref('int_trade_orders_attributed') }}
    where order_status = 'confirmed'
        and exclusion_reason is null  -- e.g. non_positive_amount: flagged in staging, never counted
        and confirm_date <= cast('{{ as_of }}' as date)
        {%- if not window['full'] %}
        and confirm_date >= cast('{{ window["since"] }}' as date)
        {%- endif %}
),

final as (
    select
        fund_account_id,
        fund_code,
        trade_type,
        cast(count(*) as bigint) as orders,
        cast(sum(amount_cny) as decimal(38, 2)) as amount_cny,
        cast(sum(shares) as decimal(38, 4)) as shares,
        cast('{{ as_of }}' as date) as built_as_of_date,
        confirm_date
    from orders
    group by fund_account_id, fund_code, trade_type, confirm_date
)

select * from final
