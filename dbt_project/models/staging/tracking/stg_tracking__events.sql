{{ config(pre_hook="{% do fundcdp.staged_events_restatement(apply=true) %}", **fundcdp.staged_events_config()) }}

{%- set rules = var('fundcdp')['tracking'] %}
{#- the delivered columns, as raw/ names them -#}
{%- set raw_columns = [
    'event_id', 'event_name', 'client_time_ms', 'receive_time_ms', 'anonymous_id', 'login_id', 'platform',
    'sdk_version', 'screen_name', 'url', 'app_section', 'referrer', 'utm_source', 'utm_medium',
    'utm_campaign', 'utm_term', 'user_agent', 'device_model', 'fund_code', 'amount', 'order_id',
    'customer_no', 'phone_hash', 'is_phone_valid', 'is_phone_junk', 'wx_openid_hash', 'is_wx_openid_junk',
    'wx_unionid_hash', 'is_wx_unionid_junk', 'arrival_date', '_source_file', '_source_line'] %}
{#- their names in this table where they differ -#}
{%- set staged_names = {'amount': 'amount_cny', '_source_file': 'source_file', '_source_line': 'source_line'} %}
{%- set restate = fundcdp.staged_events_restatement() %}
-- Incremental on DuckDB (macro staged_events_restatement): a daily build rewrites the arrival days that
-- differ from raw/ (the new day) and re-classifies the few earlier rows whose duplicate ranking or device
-- flag the new day can change; a first build, --full-refresh and Spark build everything.

with

{%- if restate['full'] %}

source as (
    select {{ raw_columns | join(', ') }} from {{ source('tracking', 'events') }}
),
{#- the duplicate ranking and the device flags read raw/ itself (a CTE read four times would be
    materialized, every row of it) -#}
{%- set id_deliveries, minute_deliveries, login_pairs = [source('tracking', 'events')] * 3 %}
{%- else %}

-- the rewritten days from raw/, and the earlier rows to re-classify read back from this table
source as (
    select {{ raw_columns | join(', ') }}
    from {{ source('tracking', 'events') }}
    where cast(arrival_date as date) in ({{ fundcdp.date_list(restate['days']) }})
    union all
    select
        {%- for column in raw_columns %}
        {{ staged_names.get(column, column) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }}
    where event_id in (select value from {{ restate['scratch'] }} where kind = 'event')
        or anonymous_id in (select value from {{ restate['scratch'] }} where kind = 'device')
),

-- what the duplicate ranking and the device flags look at: every delivery of those events' ids, and what
-- the device rules need of their devices (macro tracking_flag_inputs)
{%- set id_deliveries = 'id_deliveries' %}
{%- set minute_deliveries, login_pairs = 'flag_minute_deliveries', 'flag_login_pairs' %}
id_deliveries as (
    select event_id, receive_time_ms, arrival_date, _source_file, _source_line
    from {{ source('tracking', 'events') }}
    where event_id in (select event_id from source)
),

{{ fundcdp.tracking_flag_inputs(source('tracking', 'events'), 'source') }},
{%- endif %}

-- when ingestion wrote each file (a re-delivery or an erasure's reload rewrites it): tells the next
-- incremental build which arrival days changed
file_loads as (
    select file_name, max(cast(loaded_at as timestamp)) as loaded_at
    from {{ source('ingest', 'load_manifest') }}
    where source = 'tracking' and table_name = 'events'
        and status in ('loaded', 'corrected', 'redacted', 'unchanged')
    group by file_name
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

-- The first delivery of an event id counts; later copies are duplicates. Ranked only among the ids
-- delivered more than once, on five narrow columns: a window over every wide event row sorted and spilled
-- some 60 GB at SF10 (100M events) and ran the disk full. The repeated ids are found on a 64-bit hash of
-- the id first (an aggregate over integers, not over 100M 32-character strings), then checked exactly on
-- the few ids whose hash repeats (two ids may share a hash: the exact count decides).
repeated_hashes as (
    select {{ fundcdp.hash64('event_id') }} as event_hash
    from {{ id_deliveries }}
    group by 1
    having count(*) > 1
),

repeated_ids as (
    select event_id
    from {{ id_deliveries }}
    where {{ fundcdp.hash64('event_id') }} in (select event_hash from repeated_hashes)
    group by event_id
    having count(*) > 1
),

later_copies as (
    select source_file, source_line
    from (
        select
            copies._source_file as source_file,
            copies._source_line as source_line,
            row_number() over (
                partition by copies.event_id
                order by copies.receive_time_ms, cast(copies.arrival_date as date), copies._source_file,
                    copies._source_line
            ) as delivery_rank
        from {{ id_deliveries }} as copies
        inner join repeated_ids on copies.event_id = repeated_ids.event_id
    ) as ranked
    where delivery_rank > 1
),

bot_devices as (
    {{ fundcdp.tracking_bot_devices(minute_deliveries) }}
),

test_devices as (
    {{ fundcdp.tracking_test_devices(login_pairs) }}
),

final as (
    select
        typed.event_id,
        typed.event_name,
        typed.event_at,
        typed.event_date,
        typed.received_at,
        typed.client_time_ms,
        typed.receive_time_ms,
        typed.anonymous_id,
        typed.login_id,
        typed.platform,
        typed.sdk_version,
        typed.screen_name,
        typed.url,
        typed.app_section,
        typed.referrer,
        typed.utm_source,
        typed.utm_medium,
        typed.utm_campaign,
        typed.utm_term,
        typed.user_agent,
        typed.device_model,
        typed.fund_code,
        typed.amount_cny,
        typed.order_id,
        typed.customer_no,
        typed.phone_hash,
        typed.is_phone_valid,
        typed.is_phone_junk,
        typed.wx_openid_hash,
        typed.is_wx_openid_junk,
        typed.wx_unionid_hash,
        typed.is_wx_unionid_junk,
        typed.arrival_date,
        typed.source_file,
        typed.source_line,
        file_loads.loaded_at as source_loaded_at,
        -- One reason per event, first match wins, in this documented order.
        case
            when later_copies.source_line is not null then 'duplicate_event'
            when typed.event_name in (
                {%- for name in rules['retired_events'] %}{{ fundcdp.sql_string(name) }}{{ ", " if not loop.last }}{% endfor -%}
            ) then 'retired_tracking_point'
            {%- for pattern in rules['retired_sdk_patterns'] %}
            when {{ fundcdp.regex_matches('typed.sdk_version', pattern) }} then 'retired_sdk'
            {%- endfor %}
            when bot_devices.anonymous_id is not null then 'bot'
            when {{ fundcdp.regex_matches('typed.user_agent', rules['bot_user_agent_pattern']) }} then 'bot'
            when test_devices.anonymous_id is not null then 'test_device'
            when typed.client_time_ms
                > typed.receive_time_ms + {{ rules['clock_skew_future_minutes'] }} * 60000
                then 'clock_skew'
            when typed.client_time_ms
                < typed.receive_time_ms - cast({{ rules['max_lateness_days'] }} as bigint) * 86400000
                then 'clock_skew'
        end as exclusion_reason,
        -- the as-of date of the build that last wrote or re-classified the row: tells the attribution
        -- which earlier rows a build changed (macro attributed_events_restatement)
        cast('{{ var('as_of_date') }}' as date) as staged_as_of_date
    from typed
    left join later_copies
        on typed.source_file = later_copies.source_file and typed.source_line = later_copies.source_line
    left join bot_devices on typed.anonymous_id = bot_devices.anonymous_id
    left join test_devices on typed.anonymous_id = test_devices.anonymous_id
    left join file_loads on typed.source_file = file_loads.file_name
)

select * from final
