{{ config(materialized='table') }}

{%- set rules = var('fundcdp')['tracking'] %}

with

source as (
    select * from {{ source('tracking', 'events') }}
),

typed as (
    select
        event_id,
        event_name,
        {{ epoch_ms_to_local_timestamp('client_time_ms') }} as event_at,
        cast({{ epoch_ms_to_local_timestamp('client_time_ms') }} as date) as event_date,
        {{ epoch_ms_to_local_timestamp('receive_time_ms') }} as received_at,
        client_time_ms,
        receive_time_ms,
        anonymous_id,
        login_id,
        platform,
        sdk_version,
        screen_name,
        url,
        app_section,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        user_agent,
        device_model,
        fund_code,
        amount as amount_cny,
        order_id,
        customer_no,
        phone_hash,
        is_phone_valid,
        is_phone_junk,
        wx_openid_hash,
        is_wx_openid_junk,
        wx_unionid_hash,
        is_wx_unionid_junk,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
),

-- The first delivery of an event id counts; later copies are duplicates.
delivery_ranked as (
    select
        *,
        row_number() over (
            partition by event_id
            order by receive_time_ms, arrival_date, source_file, source_line
        ) as delivery_rank
    from typed
),

device_minutes as (
    select
        anonymous_id,
        floor(receive_time_ms / 60000) as receive_minute,
        count(*) as events_in_minute
    from typed
    where anonymous_id is not null
    group by anonymous_id, floor(receive_time_ms / 60000)
),

bot_devices as (
    select distinct anonymous_id
    from device_minutes
    where events_in_minute > {{ rules['bot_max_events_per_minute'] }}
),

test_devices as (
    select anonymous_id
    from typed
    where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
    group by anonymous_id
    having count(distinct login_id) >= {{ rules['test_device_min_logins'] }}
),

final as (
    select
        delivery_ranked.event_id,
        delivery_ranked.event_name,
        delivery_ranked.event_at,
        delivery_ranked.event_date,
        delivery_ranked.received_at,
        delivery_ranked.client_time_ms,
        delivery_ranked.receive_time_ms,
        delivery_ranked.anonymous_id,
        delivery_ranked.login_id,
        delivery_ranked.platform,
        delivery_ranked.sdk_version,
        delivery_ranked.screen_name,
        delivery_ranked.url,
        delivery_ranked.app_section,
        delivery_ranked.referrer,
        delivery_ranked.utm_source,
        delivery_ranked.utm_medium,
        delivery_ranked.utm_campaign,
        delivery_ranked.utm_term,
        delivery_ranked.user_agent,
        delivery_ranked.device_model,
        delivery_ranked.fund_code,
        delivery_ranked.amount_cny,
        delivery_ranked.order_id,
        delivery_ranked.customer_no,
        delivery_ranked.phone_hash,
        delivery_ranked.is_phone_valid,
        delivery_ranked.is_phone_junk,
        delivery_ranked.wx_openid_hash,
        delivery_ranked.is_wx_openid_junk,
        delivery_ranked.wx_unionid_hash,
        delivery_ranked.is_wx_unionid_junk,
        delivery_ranked.arrival_date,
        delivery_ranked.source_file,
        delivery_ranked.source_line,
        -- One reason per event, first match wins, in this documented order.
        case
            when delivery_ranked.delivery_rank > 1 then 'duplicate_event'
            when delivery_ranked.event_name in (
                {%- for name in rules['retired_events'] %}{{ fundcdp.sql_string(name) }}{{ ", " if not loop.last }}{% endfor -%}
            ) then 'retired_tracking_point'
            {%- for pattern in rules['retired_sdk_patterns'] %}
            when {{ fundcdp.regex_matches('delivery_ranked.sdk_version', pattern) }} then 'retired_sdk'
            {%- endfor %}
            when bot_devices.anonymous_id is not null then 'bot'
            when {{ fundcdp.regex_matches('delivery_ranked.user_agent', rules['bot_user_agent_pattern']) }} then 'bot'
            when test_devices.anonymous_id is not null then 'test_device'
            when delivery_ranked.client_time_ms
                > delivery_ranked.receive_time_ms + {{ rules['clock_skew_future_minutes'] }} * 60000
                then 'clock_skew'
            when delivery_ranked.client_time_ms
                < delivery_ranked.receive_time_ms - cast({{ rules['max_lateness_days'] }} as bigint) * 86400000
                then 'clock_skew'
        end as exclusion_reason
    from delivery_ranked
    left join bot_devices on delivery_ranked.anonymous_id = bot_devices.anonymous_id
    left join test_devices on delivery_ranked.anonymous_id = test_devices.anonymous_id
)

select * from final
