{{ config(pre_hook="{% do fundcdp.attributed_events_restatement(apply=true) %}", **fundcdp.attributed_events_config()) }}
-- depends_on: {{ ref('stg_tracking__events') }}
-- Valid events with the person behind them. Device ids stay out of the person graph: an event is
-- attributed to its own login, else to the login active on the device at that time (the latest earlier
-- login on the device), else (anonymous events before the device's first login) to the first login on
-- the device within identity.anonymous_attribution_days.
-- `login_key` (the identity hash of that login id) does not depend on the identity graph: the daily
-- aggregates are keyed on it and reach today's person through the current login -> person mapping,
-- so merges and splits never leave a stale person_id in them.
-- Incremental by event day on DuckDB like the daily tracking aggregates (macro tracking_restatement): a
-- daily build rewrites the days from the restatement window on, drops earlier rows no longer valid and
-- moves earlier rows to the person their login belongs to in this build: macro attributed_events_maintenance.
-- Rendering only reads (which days to restate); the pre-hook makes those deletes and updates when dbt runs
-- the model, in the model's transaction.
-- A full build on DuckDB attributes the events per bucket of devices, one statement per bucket: this
-- model's statement writes bucket 0 and its post-hook the others (macro fill_other_buckets); the select
-- itself is macro attributed_events_sql.
{%- set window = fundcdp.attributed_events_restatement() %}
{{ fundcdp.attributed_events_sql(window, bucket=window.get('bucket', 0), buckets=window.get('buckets', 1)) }}
