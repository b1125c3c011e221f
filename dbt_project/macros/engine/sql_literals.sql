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

{#- SQL list of date literals; a null date when the list is empty (matches nothing with `in`). -#}
{% macro date_list(days) %}
    {%- if days | length == 0 -%}
        {{ return('cast(null as date)') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for day in days -%}
        {%- do literals.append("cast('" ~ day ~ "' as date)") -%}
    {%- endfor -%}
    {{ return(literals | join(', ')) }}
{% endmacro %}

{#- Rows as a portable inline relation: `select ... union all select ...`, or an empty typed relation. -#}
{% macro inline_rows(rows, columns, types) -%}
    {%- if rows | length == 0 -%}
        select {% for c in columns %}cast(null as {{ types[loop.index0] }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %} where 1 = 0
    {%- else -%}
        {%- for row in rows %}
        select {% for c in columns %}cast({{ "null" if row[loop.index0] is none else ("'" ~ row[loop.index0] ~ "'" if types[loop.index0] in ('varchar', 'string', 'timestamp') else row[loop.index0]) }} as {{ types[loop.index0] }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %}
        {{- " union all" if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
