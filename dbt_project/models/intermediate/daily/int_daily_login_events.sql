{{ config(materialized='incremental', on_schema_change='fail', meta={'day_column': 'activity_date'},
    pre_hook="{% do fundcdp.tracking_restatement('activity_date', apply=true) %}",
    **fundcdp.daily_aggregate_config('activity_date', select_macro='daily_login_events_sql')) }}
-- Events per login, day, platform, app section and event name (section and event preferences, main
-- platform, sign-up day). Incremental by day like int_daily_login_activity.
-- A full build on DuckDB runs per bucket of logins: this model's statement writes bucket 0, its
-- post-hook the others (macro fill_other_buckets); the select itself is macro daily_login_events_sql.
-- depends_on: {{ ref('int_events_valid') }}
{%- set window = fundcdp.tracking_restatement('activity_date') %}
{{ fundcdp.daily_login_events_sql(window, bucket=window.get('bucket', 0), buckets=window.get('buckets', 1)) }}
