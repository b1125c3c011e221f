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
    {#- First on a 64-bit hash of the device id (integers to group, not 100M long strings): a hash shared by
        two devices only adds to a minute's count, so every bot device is among the candidates; then
        exactly, on the candidates' rows. -#}
    select distinct anonymous_id
    from (
        select anonymous_id, count(*) as events_in_minute
        from {{ events }}
        where anonymous_id is not null and {{ fundcdp.hash64('anonymous_id') }} in (
            select device_hash
            from (
                select {{ fundcdp.hash64('anonymous_id') }} as device_hash, count(*) as events_in_minute
                from {{ events }}
                where anonymous_id is not null
                group by 1, floor(receive_time_ms / 60000)
            ) as hashed_minutes
            where events_in_minute > {{ rules['bot_max_events_per_minute'] }}
        )
        group by anonymous_id, floor(receive_time_ms / 60000)
    ) as device_minutes
    where events_in_minute > {{ rules['bot_max_events_per_minute'] }}
{% endmacro %}

{% macro tracking_test_devices(events) %}
    {%- set rules = var('fundcdp')['tracking'] -%}
    {#- As the bot devices: candidates by a hash of the device id (two devices sharing a hash only add
        logins to it), then exactly. -#}
    select anonymous_id
    from {{ events }}
    where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
        and {{ fundcdp.hash64('anonymous_id') }} in (
            select {{ fundcdp.hash64('anonymous_id') }}
            from {{ events }}
            where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
            group by 1
            having count(distinct login_id) >= {{ rules['test_device_min_logins'] }}
        )
    group by anonymous_id
    having count(distinct login_id) >= {{ rules['test_device_min_logins'] }}
{% endmacro %}
