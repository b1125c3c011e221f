{{ config(materialized='view') }}
-- int_daily_login_events with today's person of each login (grain: person, login, day, platform,
-- section, event name).
with

login_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'login_id'
),

final as (
    select login_persons.person_id, daily.*
    from {{ ref('int_daily_login_events') }} as daily
    inner join login_persons on daily.login_key = login_persons.identifier_hash
)

select * from final
