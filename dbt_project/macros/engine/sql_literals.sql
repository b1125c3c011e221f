{#- The one place where a text from outside (a path, a configured value) becomes SQL text in dbt, as
    orchestration/lib/sql.py is in Python. The schema ymls cannot call macros: the sources'
    external_location repeats duckdb__sql_string's rule as a filter (see staging/*/_*__sources.yml). -#}

{#- A SQL string literal for a Python string, with quotes and backslashes escaped for the engine. -#}
{% macro sql_string(value) -%}
{{ return(adapter.dispatch('sql_string', 'fundcdp')(value)) }}
{%- endmacro %}

{% macro duckdb__sql_string(value) -%}
{#- Standard SQL: a quote is doubled, a backslash is an ordinary character. -#}
'{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro default__sql_string(value) -%}
{#- Spark SQL string literals treat backslash as an escape character. -#}
'{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#- A Spark backquoted name: a table name, or the path of parquet.`<path>`. Inside backquotes only a
    backquote is special (it is doubled); a backslash or a quote stands for itself. -#}
{% macro spark_backquoted(value) -%}
`{{ value | replace("`", "``") }}`
{%- endmacro %}
