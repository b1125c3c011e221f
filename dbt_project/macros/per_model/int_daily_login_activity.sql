{#- int_daily_login_activity's select for `window` (tracking_restatement()); on a full build in buckets,
    the logins of bucket `bucket` of `buckets` (the model writes bucket 0, its post-hook the others). -#}
{% macro daily_login_activity_sql(window, bucket=0, buckets=1) %}
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['tags']['session_gap_minutes'] * 60000 %}

with

events as (
    -- the day before the restated days too, so that a session running over midnight is seen
    {{ fundcdp.restated_login_events(window, ['login_key', 'event_id', 'event_at', 'event_date', 'client_time_ms',
        'utm_source'], lookback_days=1, bucket=bucket, buckets=buckets) }}
),

gaps as (
    select
        *,
        client_time_ms - lag(client_time_ms) over (partition by login_key order by client_time_ms, event_id)
            as gap_ms
    from events
),

daily as (
    select
        login_key,
        event_date as activity_date,
        count(*) as events,
        sum(case when gap_ms is null or gap_ms > {{ gap_ms }} then 1 else 0 end) as sessions,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        {{ fundcdp.first_non_null_by('utm_source', ['client_time_ms', 'event_id']) }} as first_utm_source,
        min(case when utm_source is not null then event_at end) as first_utm_at
    from gaps
    {%- if not window['full'] %}
    where event_date >= cast('{{ window["since"] }}' as date) or event_date >= claimed_from
    {%- endif %}
    group by login_key, event_date
),

final as (
    select
        login_key,
        cast(events as bigint) as events,
        cast(sessions as bigint) as sessions,
        first_event_at,
        last_event_at,
        first_utm_source,
        first_utm_at,
        cast('{{ as_of }}' as date) as built_as_of_date,
        activity_date
    from daily
)

select * from final
{% endmacro %}
