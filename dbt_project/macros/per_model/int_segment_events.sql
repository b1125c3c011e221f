{#- int_segment_events: incremental on DuckDB, rebuilt in full on Spark. -#}
{% macro segment_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of int_segment_events rewrites: the attributed events written or moved since
    its last build (int_events_attributed.built_as_of_date after it; on a re-run of that day, that day's
    too) are deleted and inserted again by the model. Events the attribution dropped since (no longer
    valid) are found per event day: a day whose row count differs from the attribution's unchanged rows
    loses its rows the attribution no longer has. If a day would still differ after that, the build is a
    full one. The decision is read before anything is deleted, so the model renders the same build its
    pre-hook prepares: while the model renders this only reads; with apply=true (the pre-hook, in the
    model's transaction) it creates the scratch table __restate_<model> (marking the build until the
    post-hook drops it) and deletes those rows, or every row for a full build.
    Returns {'full': bool, 'stamped': predicate on int_events_attributed selecting the rows to insert}. -#}
{% macro segment_events_restatement(apply=false) %}
    {%- set full = {'full': true} -%}
    {%- set last = fundcdp.incremental_last_build('__restate_', ['built_as_of_date', 'event_id', 'person_key'], apply=apply) -%}
    {%- if last is none -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set attributed = ref('int_events_attributed') -%}
    {%- set stamped = fundcdp.built_since(last) -%}
    {#- Rows (event_date, still_differs): the days differing once the rewritten events are gone
        (still_differs false), and the days that would differ after those days' rows the attribution no
        longer has are gone too (still_differs true). The `not coalesce(..., false)` keeps exactly the
        rows a `delete ... where ...` of the same predicate keeps. -#}
    {%- set differing_sql -%}
        with rewritten as (
            select event_id from {{ attributed }} where {{ stamped }}
        ),
        kept as (
            select event_date, count(*) as events
            from {{ attributed }}
            where person_id is not null and not coalesce({{ stamped }}, false)
            group by event_date
        ),
        remaining as (
            select event_id, event_date
            from {{ this }}
            where not coalesce(event_id in (select event_id from rewritten), false)
        ),
        built as (
            select event_date, count(*) as events from remaining group by event_date
        ),
        differing as (
            select coalesce(kept.event_date, built.event_date) as event_date
            from kept
            full outer join built on kept.event_date = built.event_date
            where kept.events is distinct from built.events
        ),
        kept_ids as (
            select event_id
            from {{ attributed }}
            where event_date in (select event_date from differing)
                and person_id is not null and event_id is not null and not coalesce({{ stamped }}, false)
        ),
        built_after as (
            select event_date, count(*) as events
            from remaining
            where not coalesce(
                event_date in (select event_date from differing)
                and event_id not in (select event_id from kept_ids), false)
            group by event_date
        )
        select cast(event_date as varchar) as event_date, false as still_differs from differing
        union all
        select cast(coalesce(kept.event_date, built_after.event_date) as varchar), true
        from kept
        full outer join built_after on kept.event_date = built_after.event_date
        where kept.events is distinct from built_after.events
    {%- endset -%}
    {%- set days = [] -%}
    {%- set decision = namespace(full=false) -%}
    {%- for row in run_query(differing_sql) -%}
        {%- if row[1] -%}
            {%- set decision.full = true -%}
        {%- else -%}
            {%- do days.append(row[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if apply -%}
        {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
        {%- do run_query('create or replace table ' ~ scratch ~ ' as select 1 as building') -%}
        {%- if decision.full -%}
            {%- do run_query('delete from ' ~ this) -%}
        {%- else -%}
            {%- do run_query(
                'delete from ' ~ this ~ ' where event_id in (select event_id from ' ~ attributed ~ ' where ' ~ stamped ~ ')'
            ) -%}
            {%- if days | length > 0 -%}
                {%- set day_list = fundcdp.date_list(days) -%}
                {%- do run_query(
                    'delete from ' ~ this ~ ' where event_date in (' ~ day_list ~ ') and event_id not in ('
                    ~ 'select event_id from ' ~ attributed ~ ' where event_date in (' ~ day_list ~ ')'
                    ~ ' and person_id is not null and event_id is not null and not coalesce(' ~ stamped ~ ', false))'
                ) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(full if decision.full else {'full': false, 'stamped': stamped}) }}
{% endmacro %}
