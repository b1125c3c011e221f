{{ config(materialized='table') }}
-- Valid events with the person behind them. Device ids stay out of the person graph: an event is
-- attributed to its own login's person, else to the person logged in on the device at that time (the
-- latest earlier login on the device), else (anonymous events before the device's first login) to
-- the first person logging in on the device within identity.anonymous_attribution_days.

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

with_login_person as (
    select
        events.*,
        case when not {{ is_junk_identifier('events.login_id') }} then login_persons.person_id end as login_person_id
    from events
    left join login_persons
        on {{ sha256_hex("'login_id:' || events.login_id") }} = login_persons.identifier_hash
),

device_context as (
    select
        *,
        {{ last_non_null('login_person_id') }} over (
            partition by anonymous_id order by client_time_ms, event_id
            rows between unbounded preceding and current row
        ) as device_person_before,
        {{ first_non_null('login_person_id') }} over (
            partition by anonymous_id order by client_time_ms, event_id
            rows between current row and unbounded following
        ) as device_person_after,
        min(case when login_person_id is not null then client_time_ms end) over (
            partition by anonymous_id
        ) as device_first_login_ms
    from with_login_person
),

final as (
    select
        device_context.*,
        coalesce(
            login_person_id,
            case when anonymous_id is not null then device_person_before end,
            case
                when anonymous_id is not null
                    and device_first_login_ms - client_time_ms <= cast({{ window_days }} as bigint) * 86400000
                    then device_person_after
            end
        ) as person_id,
        case
            when login_person_id is not null then 'login'
            when anonymous_id is not null and device_person_before is not null then 'device_session'
            when anonymous_id is not null and device_person_after is not null
                and device_first_login_ms - client_time_ms <= cast({{ window_days }} as bigint) * 86400000
                then 'device_first_login'
            else 'unattributed'
        end as attribution
    from device_context
)

select * from final
