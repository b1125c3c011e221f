{{ config(pre_hook="{% do fundcdp.session_events_restatement(apply=true) %}", **fundcdp.session_events_config()) }}
-- Valid attributed events numbered into sessions: a new session starts after
-- vars fundcdp.analytics.session_gap_minutes (30) without an event. Keyed on person_id, so a session
-- continues across a login. page_position numbers the page views within the session.
-- Every window runs over (partition by person_id order by client_time_ms, event_id), which DuckDB sorts
-- once per select: page_position is the person's running count of page views minus that count just
-- before the session started, instead of a row_number partitioned by session (a third sort of every
-- event: 640 s of the SF10 build had three).
-- Incremental on DuckDB (macro session_events_restatement): a daily build renumbers each person touched
-- by the build from their earliest changed event on, continuing from the person's last event before it.
-- A full build on DuckDB numbers the events per bucket of persons, one statement per bucket: this
-- model's statement writes bucket 0 and its post-hook the others (macro fill_other_buckets); the select
-- itself is macro session_events_sql.
{%- set restate = fundcdp.session_events_restatement() %}
{{ fundcdp.session_events_sql(restate, bucket=restate.get('bucket', 0), buckets=restate.get('buckets', 1)) }}
