{#- OVERRIDES dbt's built-in get_where_subquery(): a macro of that name in the root project replaces
    dbt's own (dbt wraps the tested model of every generic test in it). Why: a test's where config cannot
    call project macros (dbt renders it like any yml config), and a test of an incremental model restricted
    to what the build wrote needs the run's as-of date, the full-sweep switch and, for a key test, a
    restriction of the probe side only (history/test_partitions.sql). Any other where config is applied
    exactly as dbt's own macro does. See docs/dbt_macros.md and docs/quality.md. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set written = fundcdp.written_partition_column(where) -%}
    {%- if written is not none -%}
        {{ return(fundcdp.written_partition_subquery(relation, written)) }}
    {%- endif -%}
    {%- if where -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
