{#- int_events_attributed's select (its restatement and maintenance: int_events_attributed.sql). -#}

{#- The select of int_events_attributed for `window` (attributed_events_restatement()); on a full build,
    only the events of the devices in bucket `bucket` of `buckets` (macro bucket_predicate on anonymous_id:
    a device's windows see all its events; the events without a device fall in one bucket). -#}
{% macro attributed_events_sql(window, bucket=0, buckets=1) %}

{%- set as_of = var('as_of_date') %}
{%- set window_days = var('fundcdp')['identity']['anonymous_attribution_days'] %}
{%- set known_by_as_of -%}
    arrival_date <= cast('{{ as_of }}' as date) and event_date <= cast('{{ as_of }}' as date)
{%- endset %}
{%- set in_window -%}
    {%- if not window['full'] %} and event_date >= cast('{{ window["since"] }}' as date){% endif -%}
{%- endset %}
{#- The valid events this build reads: known by the as-of date, in the window (incremental) and of the
    bucket's devices (full, in buckets); on an incremental build also, of `valid` joined to `claims`, the
    earlier events of a device that a newly delivered first login takes over. -#}
{%- set read_by_this_build -%}
    {{ known_by_as_of }}{{ in_window }} and {{ fundcdp.bucket_predicate('anonymous_id', bucket, buckets) }}
{%- endset %}
{%- set claimed_earlier -%}
    {%- if not window['full'] -%}
    {{ known_by_as_of }} and valid.event_date >= claims.claimed_from
        and valid.event_date < cast('{{ window["since"] }}' as date)
    {%- endif -%}
{%- endset %}
{%- set own_login_key -%}
    case when not {{ is_junk_identifier('login_id') }} then {{ identity_hash("'login_id'", 'login_id') }} end
{%- endset %}

with

events as (
    select * from {{ ref('int_events_valid') }}
    where {{ read_by_this_build }}
    {%- if not window['full'] %}
    union all
    select valid.*
    from {{ ref('int_events_valid') }} as valid
    inner join {{ window['claims'] }} as claims on valid.anonymous_id = claims.anonymous_id
    where {{ claimed_earlier }}
    {%- endif %}
),

login_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'login_id'
),

-- The key of each login id the events carry (null for a junk one), once per distinct login id (per event
-- row it took 1.7 us a row: SF10 449 -> 293 s), for a superset of the events read below.
own_logins as (
    select login_id, {{ own_login_key }} as own_login_key
    from (
        select distinct login_id
        from {{ ref('int_events_valid') }}
        where login_id is not null and {{ known_by_as_of }}
        {%- if window['full'] %}
            and {{ fundcdp.bucket_predicate('anonymous_id', bucket, buckets) }}
        {%- else %}
            and (event_date >= cast('{{ window["since"] }}' as date)
                or anonymous_id in (select anonymous_id from {{ window['claims'] }}))
        {%- endif %}
    ) as logins
),

with_login as (
    select
        events.*,
        own_logins.own_login_key
    from events
    left join own_logins on events.login_id = own_logins.login_id
),

-- The device windows run on four narrow columns, kept for the events without a login of their own (the
-- only ones they attribute), joined back by event_id (over every wide row they spilled tens of GB at SF10).
device_events as (
    select
        event_id,
        anonymous_id,
        client_time_ms,
        own_logins.own_login_key
    -- read again, not from `events`: DuckDB materializes a CTE read twice, every wide row of it
    from {{ ref('int_events_valid') }} as valid
    left join own_logins on valid.login_id = own_logins.login_id
    where anonymous_id is not null and {{ read_by_this_build }}
    {%- if not window['full'] %}
    union all
    select valid.event_id, valid.anonymous_id, valid.client_time_ms, own_logins.own_login_key
    from {{ ref('int_events_valid') }} as valid
    inner join {{ window['claims'] }} as claims on valid.anonymous_id = claims.anonymous_id
    left join own_logins on valid.login_id = own_logins.login_id
    where {{ claimed_earlier }}
    {%- endif %}
),
{%- if not window['full'] %}

-- Per device with anonymous events in the window, its logins before the window: the latest (what an
-- anonymous event at the window's start continues) and the first.
window_devices as (
    select distinct anonymous_id from device_events where own_login_key is null
),

earlier_logins as (
    select valid.anonymous_id, valid.client_time_ms, valid.event_id, valid.login_id
    from {{ ref('int_events_valid') }} as valid
    inner join window_devices on valid.anonymous_id = window_devices.anonymous_id
    where {{ known_by_as_of }} and event_date < cast('{{ window["since"] }}' as date)
        and not {{ is_junk_identifier('valid.login_id') }}
),

earlier_login_times as (
    select anonymous_id, max(client_time_ms) as last_login_ms, min(client_time_ms) as first_login_ms
    from earlier_logins
    group by anonymous_id
),

earlier_last_ids as (
    select earlier_logins.anonymous_id, max(earlier_logins.event_id) as event_id
    from earlier_logins
    inner join earlier_login_times
        on earlier_logins.anonymous_id = earlier_login_times.anonymous_id
        and earlier_logins.client_time_ms = earlier_login_times.last_login_ms
    group by earlier_logins.anonymous_id
),

device_carry as (
    select
        earlier_login_times.anonymous_id,
        earlier_login_times.first_login_ms,
        {{ identity_hash("'login_id'", 'earlier_logins.login_id') }} as last_login_key
    from earlier_login_times
    inner join earlier_last_ids on earlier_login_times.anonymous_id = earlier_last_ids.anonymous_id
    inner join earlier_logins
        on earlier_last_ids.anonymous_id = earlier_logins.anonymous_id
        and earlier_last_ids.event_id = earlier_logins.event_id
),
{%- endif %}

device_windows as (
    select
        event_id,
        anonymous_id,
        client_time_ms,
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

{%- if window['full'] %}

anonymous_windows as (
    select event_id, client_time_ms, device_login_before, device_login_after, device_first_login_ms
    from device_windows
    where own_login_key is null
),
{%- else %}

-- device_windows see the window only; the logins before it complete them
anonymous_windows as (
    select
        device_windows.event_id,
        device_windows.client_time_ms,
        coalesce(device_windows.device_login_before, device_carry.last_login_key) as device_login_before,
        device_windows.device_login_after,
        case
            when device_carry.first_login_ms is null then device_windows.device_first_login_ms
            when device_windows.device_first_login_ms is null then device_carry.first_login_ms
            when device_carry.first_login_ms < device_windows.device_first_login_ms
                then device_carry.first_login_ms
            else device_windows.device_first_login_ms
        end as device_first_login_ms
    from device_windows
    left join device_carry on device_windows.anonymous_id = device_carry.anonymous_id
    where device_windows.own_login_key is null
),
{%- endif %}

-- An event without a login of its own on a device: its attribution and only the device context that decided
-- it (a later login changing nothing else leaves the row as it is: incremental and full builds agree).
anonymous_context as (
    select
        event_id,
        attribution,
        case when attribution = 'device_session' then device_login_before end as device_login_before,
        case when attribution = 'device_first_login' then device_login_after end as device_login_after,
        case when attribution = 'device_first_login' then device_first_login_ms end as device_first_login_ms
    from (
        select
            *,
            case
                when device_login_before is not null then 'device_session'
                when device_login_after is not null
                    and device_first_login_ms - client_time_ms <= cast({{ window_days }} as bigint) * 86400000
                    then 'device_first_login'
                else 'unattributed'
            end as attribution
        from anonymous_windows
    ) as decided
),

-- device_*: the context of a device_session (login_before) or device_first_login event; null otherwise
attributed as (
    select
        with_login.*,
        anonymous_context.device_login_before,
        anonymous_context.device_login_after,
        anonymous_context.device_first_login_ms,
        case
            when with_login.own_login_key is not null then 'login'
            else coalesce(anonymous_context.attribution, 'unattributed')
        end as attribution
    from with_login
    left join anonymous_context on with_login.event_id = anonymous_context.event_id
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
        login_persons.person_id,
        cast('{{ as_of }}' as date) as built_as_of_date
    from keyed
    left join login_persons on keyed.login_key = login_persons.identifier_hash
)

select * from final
{% endmacro %}
