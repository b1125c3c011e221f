{#- The device rules: a bot (more than tracking.bot_max_events_per_minute events in one collector minute) or
    a test device (at least tracking.test_device_min_logins distinct real logins). -#}
{#- Two CTEs (text for a WITH list): what the device rules must read of `raw` (every delivery) to flag the
    devices that the rows of `rows` (a relation with anonymous_id, receive_time_ms, login_id) can make a bot
    or a test device, without reading each device's whole history:
    - flag_minute_deliveries, for tracking_bot_devices: the deliveries in the collector minutes of those
      rows, per device (a device's other minutes are unchanged: had one been over the limit, the device
      would be flagged already, and its earlier rows say so);
    - flag_login_pairs, for tracking_test_devices: the distinct real logins of the devices with a real
      login among those rows (a device gains logins only through them). -#}
{% macro tracking_flag_inputs(raw, rows) %}
    flag_minutes as (
        select distinct anonymous_id, floor(receive_time_ms / 60000) as collector_minute
        from {{ rows }}
        where anonymous_id is not null
    ),
    flag_minute_deliveries as (
        select deliveries.anonymous_id, deliveries.receive_time_ms, deliveries.login_id
        from {{ raw }} as deliveries
        inner join flag_minutes
            on deliveries.anonymous_id = flag_minutes.anonymous_id
            and floor(deliveries.receive_time_ms / 60000) = flag_minutes.collector_minute
    ),
    flag_login_pairs as (
        select distinct anonymous_id, login_id
        from {{ raw }}
        where not {{ is_junk_identifier('login_id') }} and anonymous_id in (
            select anonymous_id
            from {{ rows }}
            where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
        )
    )
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
