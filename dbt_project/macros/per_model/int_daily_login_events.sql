{#- int_daily_login_events's select for `window` (tracking_restatement()); on a full build in buckets,
    the logins of bucket `bucket` of `buckets` (the model writes bucket 0, its post-hook the others). -#}
{% macro daily_login_events_sql(window, bucket=0, buckets=1) %}
{%- set as_of = var('as_of_date') %}

with

events as (
    {{ fundcdp.restated_login_events(window, ['login_key', 'event_date', 'platform', 'app_section', 'event_name'], bucket=bucket, buckets=buckets) }}
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
{% endmacro %}
