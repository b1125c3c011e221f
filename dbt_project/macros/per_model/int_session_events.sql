{#- int_session_events: incremental on DuckDB, rebuilt in full on Spark. -#}
{% macro session_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of int_session_events renumbers: per person, every event from the person's
    earliest changed one on. Changed: an attributed event written or moved since this table's last build
    (int_events_attributed.built_as_of_date on or after its last as-of date), and an event numbered here that is gone
    from int_events_attributed or belongs to another person now (then both persons are renumbered).
    The earlier events keep their numbers; the renumbering continues from the person's last kept event.
    Those persons and times go to the scratch table __restate_<model> (dropped after the build); their
    rows from those times on are deleted here, only
    with apply=true (the model's pre-hook, in the model's transaction); rendering only reads. A first build,
    --full-refresh, a table built before built_as_of_date existed, other business rules, a last build that
    stopped between its deletes and its insert (its scratch table is still there), and a build for an
    earlier as-of date than the last one renumber everything. Returns {'full': bool, 'scratch': relation}. -#}
{% macro session_events_restatement(apply=false) %}
    {%- set last = fundcdp.incremental_last_build('__restate_', apply=apply) -%}
    {%- if last is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set as_of = var('as_of_date') -%}
    {%- set attributed = ref('int_events_attributed') -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if apply -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with changed as (
                select person_id, client_time_ms
                from {{ attributed }}
                -- written since this table's last build
                where {{ fundcdp.built_since(last) }} and person_id is not null
                    and event_date <= cast('{{ as_of }}' as date)
                union all
                select numbered.person_id, numbered.client_time_ms
                from {{ this }} as numbered
                left join {{ attributed }} as attributed on numbered.event_id = attributed.event_id
                where attributed.event_id is null or attributed.person_id is distinct from numbered.person_id
            )
            select person_id, min(client_time_ms) as restate_from_ms
            from changed
            group by person_id
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as numbered using ' ~ scratch ~ ' as restated'
            ~ ' where numbered.person_id = restated.person_id'
            ~ ' and numbered.client_time_ms >= restated.restate_from_ms'
        ) -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch}) }}
{% endmacro %}
