{{ config(materialized='incremental', on_schema_change='fail', meta={'day_column': 'activity_date'},
    pre_hook="{% do fundcdp.tracking_restatement('activity_date', apply=true) %}",
    **fundcdp.daily_aggregate_config('activity_date')) }}
-- Activity per login and day: events, sessions started, first and last event, first campaign touch.
-- Incremental by day (macro daily_restatement): a daily run rebuilds the recent days only, and on DuckDB
-- the earlier days of the logins a newly delivered first login changes (macro tracking_restatement).
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['tags']['session_gap_minutes'] * 60000 %}
-- depends_on: {{ ref('int_events_valid') }}
{%- set window = fundcdp.tracking_restatement('activity_date') %}

with

events as (
    -- the day before the restated days too, so that a session running over midnight is seen
    {{ fundcdp.restated_login_events(window, ['login_key', 'event_id', 'event_at', 'event_date', 'client_time_ms',
        'utm_source'], lookback_days=1) }}
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
