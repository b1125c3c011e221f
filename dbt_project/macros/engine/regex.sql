{#- True when `expression` contains a match of the RE2 / Java regex `pattern` (a SQL string literal
    is built from it; single quotes are doubled). DuckDB uses RE2, Spark Java regexes: keep patterns
    to their common subset (no back-references, no look-around). -#}
{% macro regex_matches(expression, pattern) -%}
{{ return(adapter.dispatch('regex_matches', 'fundcdp')(expression, pattern)) }}
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
regexp_matches({{ expression }}, {{ fundcdp.sql_string(pattern) }})
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
({{ expression }} rlike {{ fundcdp.sql_string(pattern) }})
{%- endmacro %}
