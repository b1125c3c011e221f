{{ config(materialized='table') }}
-- Confirmed purchases (vars fundcdp.tags.purchase_trade_types) with the day each became known: the
-- arrival day of the first delivered version of the order that was confirmed (grain: order_id), with
-- today's person of the fund account. For point-in-time features (int_churn_feature_snapshots).
{%- set as_of = var('as_of_date') %}

with

confirmed as (
    select
        order_id,
        fund_account_id,
        confirm_date,
        arrival_date,
        row_number() over (
            partition by order_id order by arrival_date, source_file, source_line
        ) as confirmed_rank
    from {{ ref('stg_trade__trade_orders') }}
    where order_status = 'confirmed'
        and exclusion_reason is null
        and trade_type in ({{ purchase_trade_types() }})
        and arrival_date <= cast('{{ as_of }}' as date)
        and confirm_date <= cast('{{ as_of }}' as date)
),

account_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'fund_account_id'
),

final as (
    select
        confirmed.order_id,
        account_persons.person_id,
        confirmed.confirm_date,
        greatest(confirmed.arrival_date, confirmed.confirm_date) as known_date
    from confirmed
    inner join account_persons
        on {{ identity_hash("'fund_account_id'", 'confirmed.fund_account_id') }} = account_persons.identifier_hash
    where confirmed.confirmed_rank = 1
)

select * from final
