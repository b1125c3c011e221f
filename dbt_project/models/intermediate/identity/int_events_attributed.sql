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
{%- set known_by_as_of -%}
    arrival_date <= cast('{{ as_of }}' as date) and event_date <= cast('{{ as_of }}' as date)
{%- endset %}
{%- set own_login_key -%}
    case when not {{ is_junk_identifier('login_id') }} then {{ sha256_hex("'login_id:' || login_id") }} end
{%- endset %}

with

events as (
    select * from {{ ref('int_events_valid') }}
    where {{ known_by_as_of }}
),

login_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'login_id'
),

with_login as (
    select
        events.*,
        {{ own_login_key }} as own_login_key
    from events
),

-- The device windows run on four narrow columns and are kept for the events without a login of their
-- own (the only ones they attribute), then joined back by event_id (unique among valid events): the
-- same windows over every wide event row sorted and spilled tens of GB at SF10 (100M events).
device_events as (
    select
        event_id,
        anonymous_id,
        client_time_ms,
        {{ own_login_key }} as own_login_key
    -- read again rather than from `events` or `with_login`: DuckDB materializes a CTE read twice (EXPLAIN
    -- shows it), every wide row of it
    from {{ ref('int_events_valid') }}
    where anonymous_id is not null and {{ known_by_as_of }}
),

device_windows as (
    select
        event_id,
        own_login_key,
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
    from device_events
),

anonymous_context as (
    select event_id, device_login_before, device_login_after, device_first_login_ms
    from device_windows
    where own_login_key is null
),

-- device_* columns: null for an event with its own login or without a device id
device_context as (
    select
        with_login.*,
        anonymous_context.device_login_before,
        anonymous_context.device_login_after,
        anonymous_context.device_first_login_ms
    from with_login
    left join anonymous_context on with_login.event_id = anonymous_context.event_id
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
