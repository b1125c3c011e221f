{#- The devices of `events` (a relation with anonymous_id, receive_time_ms, login_id) flagged as a bot
    (more than tracking.bot_max_events_per_minute events in one collector minute) or as a test device
    (at least tracking.test_device_min_logins distinct real logins). Each macro is one select. -#}
{% macro tracking_flagged_devices(events) %}
    select anonymous_id from ({{ fundcdp.tracking_bot_devices(events) }}) as bot_devices
    union
    select anonymous_id from ({{ fundcdp.tracking_test_devices(events) }}) as test_devices
{% endmacro %}

{% macro tracking_bot_devices(events) %}
    {%- set rules = var('fundcdp')['tracking'] -%}
    select distinct anonymous_id
    from (
        select anonymous_id, count(*) as events_in_minute
        from {{ events }}
        where anonymous_id is not null
        group by anonymous_id, floor(receive_time_ms / 60000)
    ) as device_minutes
    where events_in_minute > {{ rules['bot_max_events_per_minute'] }}
{% endmacro %}

{% macro tracking_test_devices(events) %}
    {%- set rules = var('fundcdp')['tracking'] -%}
    select anonymous_id
    from {{ events }}
    where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
    group by anonymous_id
    having count(distinct login_id) >= {{ rules['test_device_min_logins'] }}
{% endmacro %}
