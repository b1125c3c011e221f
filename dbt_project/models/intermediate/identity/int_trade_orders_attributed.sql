{{ config(materialized='table') }}
-- Trade orders (latest delivered version of each order, as of the as-of date) with their person,
-- through the fund account.

{%- set as_of = var('as_of_date') %}

with

orders as (
    select * from {{ ref('stg_trade__trade_orders') }}
    where arrival_date <= cast('{{ as_of }}' as date)
),

latest as (
    select *
    from (
        select
            orders.*,
            row_number() over (
                partition by order_id order by arrival_date desc, source_file desc, source_line desc
            ) as delivery_rank
        from orders
    ) as ranked
    where delivery_rank = 1
),

account_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'fund_account_id'
),

final as (
    select
        latest.order_id,
        latest.fund_account_id,
        account_persons.person_id,
        latest.fund_code,
        latest.trade_type,
        latest.order_at,
        latest.order_date,
        latest.confirm_date,
        latest.order_status,
        latest.amount_cny,
        latest.shares,
        latest.nav,
        latest.fee_cny,
        latest.target_fund_code,
        latest.sip_agreement_id,
        latest.channel,
        latest.exclusion_reason,
        latest.arrival_date
    from latest
    left join account_persons
        on {{ identity_hash("'fund_account_id'", 'latest.fund_account_id') }} = account_persons.identifier_hash
)

select * from final
