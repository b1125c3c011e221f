{{ config(materialized='incremental', on_schema_change='fail', meta={'day_column': 'activity_date'},
    pre_hook="{% do fundcdp.tracking_restatement('activity_date', apply=true) %}",
    **fundcdp.daily_aggregate_config('activity_date')) }}
-- Events per login, day, platform, app section and event name (section and event preferences, main
-- platform, sign-up day). Incremental by day like int_daily_login_activity.
{%- set as_of = var('as_of_date') %}
-- depends_on: {{ ref('int_events_valid') }}
{%- set window = fundcdp.tracking_restatement('activity_date') %}

with

events as (
    {{ fundcdp.restated_login_events(window, ['login_key', 'event_date', 'platform', 'app_section', 'event_name']) }}
),

final as (
    select
        login_key,
        platform,
        app_section,
        event_name,
        cast(count(*) as bigint) as events,
        cast('{{ as_of }}' as date) as built_as_of_date,
        event_date as activity_date
    from events
    group by login_key, platform, app_section, event_name, event_date
)

select * from final
