{#- sessions: incremental on DuckDB (delete+insert of changed sessions), rebuilt in full on Spark. -#}
{% macro sessions_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of the sessions mart rewrites: the sessions (person_id, session_number) with
    an event numbered in int_session_events since this table's last build (its built_as_of_date; on a
    re-run of that day, that day's too), and those whose event count or last event differ from
    int_session_events or that exist on one side only (events taken away from a person without a new
    numbering of the person's later ones: a move to another person, an event no longer valid). They go
    to the scratch table __restate_<model> (dropped after the build); their rows are deleted here, only
    with apply=true (the model's pre-hook, in the model's transaction); rendering only reads. Everything
    again on a first build, --full-refresh, a table built before built_as_of_date existed, other business
    rules, a last build that stopped midway, and a build for an earlier as-of date than the last one. Returns {'full': bool, 'scratch': relation}. -#}
{% macro sessions_restatement(apply=false) %}
    {%- set last = fundcdp.incremental_last_build('__restate_', apply=apply) -%}
    {%- if last is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set numbered = ref('int_session_events') -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if apply -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with renumbered as (
                select distinct person_id, session_number
                from {{ numbered }}
                where {{ fundcdp.built_since(last) }}
            ),
            counted as (
                select person_id, session_number, count(*) as events, max(event_at) as ended_at
                from {{ numbered }}
                group by person_id, session_number
            ),
            differing as (
                select coalesce(built.person_id, counted.person_id) as person_id,
                    coalesce(built.session_number, counted.session_number) as session_number
                from {{ this }} as built
                full outer join counted
                    on built.person_id = counted.person_id and built.session_number = counted.session_number
                where built.person_id is null or counted.person_id is null
                    or built.events != counted.events or built.ended_at != counted.ended_at
            )
            select person_id, session_number from renumbered
            union
            select person_id, session_number from differing
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as built using ' ~ scratch ~ ' as restated'
            ~ ' where built.person_id = restated.person_id and built.session_number = restated.session_number'
        ) -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch}) }}
{% endmacro %}
