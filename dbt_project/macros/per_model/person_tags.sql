{#- The pre-hook of each tag table on DuckDB: its rows as they were before this build, kept as
    __previous_<model> until person_tags has compared them with the new rows (person_tags_restatement;
    person_tags' post-hook drops them). Nothing on Spark, where person_tags is rebuilt in full. -#}
{% macro keep_previous_tags() %}
    {{ return(adapter.dispatch('keep_previous_tags', 'fundcdp')()) }}
{% endmacro %}

{% macro default__keep_previous_tags() %}
{% endmacro %}

{% macro duckdb__keep_previous_tags() %}
    {%- if execute and this is not none and load_relation(this) is not none -%}
        {%- do run_query('create or replace table ' ~ this.schema ~ '.__previous_' ~ this.identifier
            ~ ' as select * from ' ~ this) -%}
    {%- endif -%}
{% endmacro %}

{#- person_tags: incremental on DuckDB, rebuilt in full on Spark. After the insert the rows kept take
    this build's as-of date, and the tag tables' __previous_ copies are dropped. -#}
{% macro person_tags_config() %}
    {%- set config = fundcdp.event_table_config('append', '__restate_') -%}
    {%- if target.type != 'spark' -%}
        {%- set hooks = ["update {{ this }} set as_of_date = cast('" ~ var('as_of_date')
            ~ "' as date) where as_of_date <> cast('" ~ var('as_of_date') ~ "' as date)"] -%}
        {%- for table in fundcdp.tag_tables() -%}
            {%- do hooks.append('drop table if exists {{ this.schema }}.__previous_' ~ table) -%}
        {%- endfor -%}
        {%- do config.update({'post_hook': hooks + config['post_hook']}) -%}
    {%- endif -%}
    {{ return(config) }}
{% endmacro %}

{#- What an incremental build of person_tags rewrites, per tag table: the rows of its tags of the persons
    whose row in the tag table differs from the one it had at person_tags' last build (the table's
    __previous_ copy, taken by its pre-hook, holds that build's rows: its as_of_date is person_tags' last
    as-of date), or all its tags' rows when there is no such copy (the tag table was built on a day
    person_tags was not, or without its pre-hook), its columns changed or it was not built as of this day. Those persons go to the scratch
    table __restate_<model> (table, person_id; dropped after the build); their rows, and rows of tags no
    tag table has any more, are deleted here, only with apply=true (the model's pre-hook, in the model's
    transaction); rendering only reads. A full build: a first build, --full-refresh, other business
    rules, a build that stopped after its deletes, a build for the same or an earlier as-of date.
    Returns {'full': bool, 'scratch': relation, 'whole': [the tag tables rewritten in full]}. -#}
{% macro person_tags_restatement(tag_columns, apply=false) %}
    {%- set last = fundcdp.incremental_last_build('__restate_', ['as_of_date'], apply=apply, stamp='as_of_date', rerun_is_full=true) -%}
    {%- if last is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- set whole = [] -%}
    {%- set compared = [] -%}
    {%- for table in fundcdp.tag_tables() -%}
        {%- set relation = ref(table) -%}
        {%- set previous = adapter.get_relation(database=relation.database, schema=relation.schema,
            identifier='__previous_' ~ table) -%}
        {%- set columns = tag_columns | selectattr('table', 'equalto', table) | map(attribute='column') | list -%}
        {%- set previous_columns = (adapter.get_columns_in_relation(previous) | map(attribute='name')
            | reject('in', ['person_id', 'as_of_date']) | list) if previous is not none else none -%}
        {%- set previous_as_of = (run_query('select max(as_of_date) from ' ~ previous).columns[0].values()[0] | string)[:10]
            if previous is not none else none -%}
        {%- set built_as_of = (run_query('select max(as_of_date) from ' ~ relation).columns[0].values()[0] | string)[:10]
            if previous is not none else none -%}
        {%- if previous is none or previous_columns != columns or previous_as_of != last or built_as_of != var('as_of_date') -%}
            {%- do whole.append(table) -%}
        {%- else -%}
            {%- do compared.append({'table': table, 'relation': relation, 'previous': previous, 'columns': columns}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if apply -%}
        {%- set diffs = [] -%}
        {%- for tag_table in compared -%}
            {%- set listed = (['person_id'] + tag_table['columns']) | join(', ') -%}
            {%- do diffs.append(
                "select distinct '" ~ tag_table['table'] ~ "' as tag_table, person_id from ("
                ~ "(select " ~ listed ~ " from " ~ tag_table['relation'] ~ " except select " ~ listed ~ " from " ~ tag_table['previous'] ~ ")"
                ~ " union all (select " ~ listed ~ " from " ~ tag_table['previous'] ~ " except select " ~ listed ~ " from " ~ tag_table['relation'] ~ ")"
                ~ ") as differing") -%}
        {%- endfor -%}
        {%- do run_query('create or replace table ' ~ scratch ~ ' as '
            ~ (diffs | join(' union all ') if diffs else "select cast(null as varchar) as tag_table, cast(null as varchar) as person_id where false")) -%}
        {%- set codes = tag_columns | map(attribute='column') | list -%}
        {%- set whole_codes = tag_columns | selectattr('table', 'in', whole) | map(attribute='column') | list -%}
        {%- set deletes = ["tag_code not in ('" ~ codes | join("', '") ~ "')"] -%}
        {%- if whole_codes -%}
            {%- do deletes.append("tag_code in ('" ~ whole_codes | join("', '") ~ "')") -%}
        {%- endif -%}
        {%- for tag_table in compared -%}
            {%- do deletes.append("(tag_code in ('" ~ tag_table['columns'] | join("', '") ~ "') and person_id in (select person_id from "
                ~ scratch ~ " where tag_table = '" ~ tag_table['table'] ~ "'))") -%}
        {%- endfor -%}
        {%- do run_query('delete from ' ~ this ~ ' where ' ~ deletes | join(' or ')) -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch, 'whole': whole}) }}
{% endmacro %}
