{{ config(materialized='table') }}
-- Holdings snapshot rows delivered by the as-of date, with today's person of each fund account and
-- whether the row belongs to the account's latest snapshot on or before the date (`is_latest`).
{%- set as_of_date = "cast('" ~ var('as_of_date') ~ "' as date)" %}

with

account_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'fund_account_id'
),

holdings as (
    select *
    from {{ ref('stg_trade__holdings') }}
    where snapshot_date <= {{ as_of_date }} and arrival_date <= {{ as_of_date }}
),

final as (
    select
        account_persons.person_id,
        holdings.*,
        holdings.snapshot_date = max(holdings.snapshot_date) over (partition by holdings.fund_account_id)
            as is_latest
    from holdings
    inner join account_persons
        on {{ identity_hash("'fund_account_id'", 'holdings.fund_account_id') }} = account_persons.identifier_hash
)

select * from final
