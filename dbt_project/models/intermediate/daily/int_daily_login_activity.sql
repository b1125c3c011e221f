{{ config(materialized='incremental', on_schema_change='fail', meta={'day_column': 'activity_date'},
    pre_hook="{% do fundcdp.tracking_restatement('activity_date', apply=true) %}",
    **fundcdp.daily_aggregate_config('activity_date', select_macro='daily_login_activity_sql')) }}
-- Activity per login and day: events, sessions started, first and last event, first campaign touch.
-- Incremental by day (macro daily_restatement): a daily run rebuilds the recent days only, and on DuckDB
-- the earlier days of the logins a newly delivered first login changes (macro tracking_restatement).
-- A full build on DuckDB runs per bucket of logins: this model's statement writes bucket 0, its
-- post-hook the others (macro fill_other_buckets); the select itself is macro daily_login_activity_sql.
-- depends_on: {{ ref('int_events_valid') }}
{%- set window = fundcdp.tracking_restatement('activity_date') %}
{{ fundcdp.daily_login_activity_sql(window, bucket=window.get('bucket', 0), buckets=window.get('buckets', 1)) }}
