{#- int_segment_events: incremental on DuckDB, rebuilt in full on Spark. -#}
{% macro segment_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of int_segment_events rewrites: the attributed events written or moved since
    its last build (int_events_attributed.built_as_of_date after it; on a re-run of that day, that day's
    too) are deleted here and inserted again by the model. Events the attribution dropped since (no
    longer valid) are found per event day: a day whose row count differs from the attribution's
    unchanged rows loses its rows the attribution no longer has. If a day still differs after that, the
    build is a full one. A scratch table __restate_<model> marks the build until its post-hook drops it.
    Returns {'full': bool, 'stamped': predicate on int_events_attributed selecting the rows to insert}. -#}
{% macro segment_events_restatement() %}
    {%- set full = {'full': true} -%}
    {%- set last = fundcdp.incremental_last_build('__restate_', ['built_as_of_date', 'event_id']) -%}
    {%- if last is none -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set running = flags.WHICH in ('run', 'build', 'retry') -%}
    {%- set attributed = ref('int_events_attributed') -%}
    {%- set stamped = fundcdp.built_since(last) -%}
    {%- set differing_days -%}
        with kept as (
            select event_date, count(*) as events
            from {{ attributed }}
            where person_id is not null and not coalesce({{ stamped }}, false)
            group by event_date
        ),
        built as (
            select event_date, count(*) as events from {{ this }} group by event_date
        )
        select cast(coalesce(kept.event_date, built.event_date) as varchar)
        from kept
        full outer join built on kept.event_date = built.event_date
        where kept.events is distinct from built.events
    {%- endset -%}
    {%- if running -%}
        {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
        {%- do run_query('create or replace table ' ~ scratch ~ ' as select 1 as building') -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' where event_id in (select event_id from ' ~ attributed ~ ' where ' ~ stamped ~ ')'
        ) -%}
        {%- set days = run_query(differing_days).columns[0].values() | list -%}
        {%- if days | length > 0 -%}
            {%- set day_list = fundcdp.date_list(days) -%}
            {%- do run_query(
                'delete from ' ~ this ~ ' where event_date in (' ~ day_list ~ ') and event_id not in ('
                ~ 'select event_id from ' ~ attributed ~ ' where event_date in (' ~ day_list ~ ')'
                ~ ' and person_id is not null and event_id is not null and not coalesce(' ~ stamped ~ ', false))'
            ) -%}
            {%- if run_query(differing_days).columns[0].values() | length > 0 -%}
                {%- do run_query('delete from ' ~ this) -%}
                {{ return(full) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return({'full': false, 'stamped': stamped}) }}
{% endmacro %}
