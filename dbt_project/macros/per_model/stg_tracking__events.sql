{#- stg_tracking__events: incremental on DuckDB, rebuilt in full on Spark (its Parquet tables cannot
    delete single rows). Rows are keyed on (source_file, source_line); see staged_events_restatement(). -#}
{% macro staged_events_config() %}
    {{ return(fundcdp.event_table_config('delete+insert', '__restate_', ['source_file', 'source_line'])) }}
{% endmacro %}

{#- What an incremental build of stg_tracking__events rewrites. A staged arrival day is rewritten when it
    differs from raw/: its row count, or the load time of its files in the load manifest (a corrected or
    redacted re-delivery, an erasure's reload), or it is new, or retention purged it from raw/. Rows of
    other days change only through what looks across days: the duplicate ranking of an event id and the
    bot / test-device flags of a device. So the rows of other days re-classified are those sharing an
    event id with a rewritten day, and those of a device seen in a rewritten day that is flagged now or
    was before. Those ids and devices go to the scratch table __restate_<model> (dropped after the
    build), and the rewritten days' rows are deleted here: only with apply=true (the model's pre-hook, in the
    model's transaction); while the model renders this only reads.
    Returns {'full': true} on a first build or --full-refresh, else {'full': false, 'days': [...],
    'scratch': relation}. A change of vars fundcdp.tracking rules applies to old events only with
    --full-refresh. -#}
{% macro staged_events_restatement(apply=false) %}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set raw = fundcdp.source('tracking', 'events') -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if 'staged_as_of_date' not in columns or fundcdp.rules_changed() or fundcdp.unfinished_build('__restate_') -%}
        {#- built with other business rules, before staged_as_of_date existed (an upgrade), or the last
            incremental build stopped between its deletes and its insert: everything again -#}
        {%- if apply -%}
            {%- do run_query('delete from ' ~ this) -%}
        {%- endif -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set days_sql -%}
        with raw_days as (
            select cast(arrival_date as date) as arrival_date, count(*) as row_count
            from {{ raw }}
            group by 1
        ),
        loads as (
            select cast(arrival_date as date) as arrival_date, max(cast(loaded_at as timestamp)) as loaded_at
            from {{ fundcdp.source('ingest', 'load_manifest') }}
            where source = 'tracking' and table_name = 'events' and rows_loaded > 0
                and status in ('loaded', 'corrected', 'redacted', 'unchanged')
            group by 1
        ),
        staged as (
            select arrival_date, count(*) as row_count, max(source_loaded_at) as loaded_at
            from {{ this }}
            group by 1
        )
        select distinct cast(coalesce(raw_days.arrival_date, staged.arrival_date) as varchar) as arrival_date
        from raw_days
        left join loads on raw_days.arrival_date = loads.arrival_date
        full outer join staged on raw_days.arrival_date = staged.arrival_date
        where raw_days.row_count is distinct from staged.row_count
            or loads.loaded_at is distinct from staged.loaded_at
        order by 1
    {%- endset -%}
    {%- set days = run_query(days_sql).columns[0].values() | list -%}
    {%- set day_list = fundcdp.date_list(days) -%}
    {%- if apply -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with restated as (
                select anonymous_id, event_id, receive_time_ms, login_id
                from {{ raw }}
                where cast(arrival_date as date) in ({{ day_list }})
                union all
                select anonymous_id, event_id, receive_time_ms, login_id
                from {{ this }}
                where arrival_date in ({{ day_list }})
            ),
            {{ fundcdp.tracking_flag_inputs(raw, 'restated') }},
            flagged as (
                {{ fundcdp.tracking_bot_devices('flag_minute_deliveries') }}
                union
                {{ fundcdp.tracking_test_devices('flag_login_pairs') }}
                union
                select staged.anonymous_id
                from {{ this }} as staged
                where staged.exclusion_reason in ('bot', 'test_device') and staged.anonymous_id in (
                    select anonymous_id from restated
                )
            )
            select 'device' as kind, anonymous_id as value from flagged
            union all
            select distinct 'event', event_id from restated where event_id is not null
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query('delete from ' ~ this ~ ' where arrival_date in (' ~ day_list ~ ')') -%}
    {%- endif -%}
    {{ return({'full': false, 'days': days, 'scratch': scratch}) }}
{% endmacro %}
