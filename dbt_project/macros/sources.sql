{#- source() for every engine. DuckDB reads raw/ through the sources' external_location (dbt-duckdb);
    Spark reads the same Parquet directories directly, with hive partition discovery (arrival_date). -#}
{% macro source(source_name, table_name) %}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if target.type == 'spark' -%}
        {{ return('parquet.`' ~ env_var('FUNDCDP_DATA_DIR', 'data') ~ '/raw/' ~ source_name ~ '/' ~ table_name ~ '`') }}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}
