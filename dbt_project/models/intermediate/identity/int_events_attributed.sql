{{ config(materialized='table') }}
-- Valid events with the person behind them. Device ids stay out of the person graph: an event is
-- attributed to its own login, else to the login active on the device at that time (the latest earlier
-- login on the device), else (anonymous events before the device's first login) to the first login on
-- the device within identity.anonymous_attribution_days.
-- `login_key` (the identity hash of that login id) does not depend on the identity graph: the daily
-- aggregates are keyed on it and reach today's person through the current login -> person mapping,
-- so merges and splits never leave a stale person_id in them.

{%- set as_of = var('as_of_date') %}
{%- set window_days = var('fundcdp')['identity']['anonymous_attribution_days'] %}

with

events as (
    select * from {{ ref('int_events_valid') }}
    where arrival_date <= cast('{{ as_of }}' as date)
        and event_date <= cast('{{ as_of }}' as date)
),

login_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'login_id'
),

with_login as (
    select
        events.*,
        case
            when not {{ is_junk_identifier('events.login_id') }}
                then {{ sha256_hex("'login_id:' || events.login_id") }}
        end as own_login_key
    from events
),

device_context as (
    select
        *,
        {{ last_non_null('own_login_key') }} over (
            partition by anonymous_id order by client_time_ms, event_id
            rows between unbounded preceding and current row
        ) as device_login_before,
        {{ first_non_null('own_login_key') }} over (
            partition by anonymous_id order by client_time_ms, event_id
            rows between current row and unbounded following
        ) as device_login_after,
        min(case when own_login_key is not null then client_time_ms end) over (
            partition by anonymous_id
        ) as device_first_login_ms
    from with_login
),

attributed as (
    select
        *,
        case
            when own_login_key is not null then 'login'
            when anonymous_id is not null and device_login_before is not null then 'device_session'
            when anonymous_id is not null and device_login_after is not null
                and device_first_login_ms - client_time_ms <= cast({{ window_days }} as bigint) * 86400000
                then 'device_first_login'
            else 'unattributed'
        end as attribution
    from device_context
),

keyed as (
    select
        *,
        case attribution
            when 'login' then own_login_key
            when 'device_session' then device_login_before
            when 'device_first_login' then device_login_after
        end as login_key
    from attributed
),

final as (
    select
        keyed.*,
        login_persons.person_id
    from keyed
    left join login_persons on keyed.login_key = login_persons.identifier_hash
)

select * from final
