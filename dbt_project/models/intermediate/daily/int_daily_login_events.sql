{{ config(materialized='incremental', on_schema_change='fail', meta={'day_column': 'activity_date'}, **fundcdp.daily_aggregate_config('activity_date')) }}
-- Events per login, day, platform, app section and event name (section and event preferences, main
-- platform, sign-up day). Incremental by day like int_daily_login_activity.
{%- set as_of = var('as_of_date') %}
-- depends_on: {{ ref('int_events_valid') }}
{%- set window = fundcdp.tracking_restatement('activity_date') %}

with

events as (
    select attributed.login_key, attributed.event_date, attributed.platform, attributed.app_section,
        attributed.event_name
    from {{ ref('int_events_attributed') }} as attributed
    {%- if window.get('claims') %}
    -- the logins whose earlier days a claim changes (DuckDB; Spark restates those days for every login)
    left join {{ window['claims'] }} as claimed on attributed.login_key = claimed.login_key
    {%- endif %}
    where attributed.login_key is not null
        and attributed.event_date <= cast('{{ as_of }}' as date)
        {%- if not window['full'] %}
        and (attributed.event_date >= cast('{{ window["since"] }}' as date)
            {%- if window.get('claims') %}
            or attributed.event_date >= claimed.claimed_from
            {%- endif %})
        {%- endif %}
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
