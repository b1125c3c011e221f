{#- int_page_paths_by_person and int_page_transitions_by_person (each person's contribution to the page_paths
    and page_transitions marts): incremental on DuckDB (delete+insert of the changed persons), rebuilt in
    full on Spark. -#}
{% macro page_contributions_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- Which persons an incremental build of a page contribution table recomputes (all their sessions): those
    with an event numbered in int_session_events since this table's last build (built_since), and those whose
    page views there no longer number person_page_views (events taken away without a new numbering of the
    person's later ones: a move to another person, an event no longer valid; that can only remove
    sessions or pages, so a person without rows here needs nothing). They go to the scratch table
    __restate_<model> (dropped after the build); their rows are deleted here, only with apply=true (the
    model's pre-hook, in the model's transaction); rendering only reads. Everything again on a first build,
    --full-refresh, a table built before built_as_of_date existed, other business rules, a last build that
    stopped midway, and a build for an earlier as-of date than the last one (incremental_last_build).
    Returns {'full': bool, 'scratch': relation}. -#}
{% macro page_contributions_restatement(apply=false) %}
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
                select distinct person_id
                from {{ numbered }}
                where {{ fundcdp.built_since(last) }}
            ),
            built as (
                select distinct person_id, person_page_views from {{ this }}
            ),
            counted as (
                select numbered.person_id, count(*) as page_views
                from {{ numbered }} as numbered
                inner join built on numbered.person_id = built.person_id
                where numbered.page_position is not null
                group by numbered.person_id
            ),
            shrunk as (
                select built.person_id
                from built
                left join counted on built.person_id = counted.person_id
                where counted.page_views is distinct from built.person_page_views
            )
            select person_id from renumbered
            union
            select person_id from shrunk
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as built using ' ~ scratch ~ ' as restated'
            ~ ' where built.person_id = restated.person_id'
        ) -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch}) }}
{% endmacro %}

{#- The page views of int_session_events (person_id, session_number, page, page_position), of the persons
    restated when the build is incremental. -#}
{% macro page_views_of_restated(restate) %}
    select numbered.person_id, numbered.session_number, numbered.screen_name as page, numbered.page_position
    from {{ ref('int_session_events') }} as numbered
    {%- if not restate['full'] %}
    inner join {{ restate['scratch'] }} as restated on numbered.person_id = restated.person_id
    {%- endif %}
    where numbered.page_position is not null
{% endmacro %}
