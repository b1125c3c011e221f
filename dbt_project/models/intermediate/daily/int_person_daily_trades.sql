{{ config(materialized='view') }}
-- int_daily_account_trades with today's person of each fund account (grain: person, account, fund,
-- trade type, confirmation day).
with

account_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'fund_account_id'
),

final as (
    select account_persons.person_id, daily.*
    from {{ ref('int_daily_account_trades') }} as daily
    inner join account_persons
        on {{ identity_hash("'fund_account_id'", 'daily.fund_account_id') }} = account_persons.identifier_hash
)

select * from final
