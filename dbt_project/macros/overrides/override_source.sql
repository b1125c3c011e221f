{#- OVERRIDES dbt's built-in source(): a macro named `source` in the root project replaces dbt's own for
    every model of this project (dbt's is still reachable as builtins.source, called below). Why: on Spark
    there is no catalog of the raw tables; the models read the raw Parquet directories directly, so
    source() must hand back `parquet.<path>` there. On DuckDB it returns exactly what dbt's source() returns
    (the sources' external_location). See docs/dbt_macros.md. -#}

{#- source() for every engine. DuckDB reads raw/ through the sources' external_location (dbt-duckdb);
    Spark reads the same Parquet directories directly, with hive partition discovery (arrival_date). The
    data directory is quoted (spark_backquoted); characters Spark would read as a file pattern are refused
    where the data directory is resolved (orchestration/lib/layout.py, DataLayout.at). -#}
{% macro source(source_name, table_name) %}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {#- a dbt unit test hands back its fixture CTE (__dbt__cte__…): read that, on every engine -#}
    {%- if target.type == 'spark' and '__dbt__cte__' not in (relation | string) -%}
        {%- set path = env_var('FUNDCDP_DATA_DIR', 'data') ~ '/raw/' ~ source_name ~ '/' ~ table_name -%}
        {{ return('parquet.' ~ fundcdp.spark_backquoted(path)) }}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}
