{#- Lower-case hex SHA-256 of a string expression. -#}
{% macro sha256_hex(expression) -%}
{{ return(adapter.dispatch('sha256_hex', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__sha256_hex(expression) -%}
sha256({{ expression }})
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
sha2({{ expression }}, 256)
{%- endmacro %}

{#- A pseudo-random priority of an integer node for contraction round `round_number`. Engines
    differ (DuckDB hash vs Spark xxhash64); only the number of passes depends on it, never the
    partition or the person ids. -#}
{% macro node_priority(node, round_number) -%}
{{ return(adapter.dispatch('node_priority', 'fundcdp')(node, round_number)) }}
{%- endmacro %}

{% macro duckdb__node_priority(node, round_number) -%}
hash({{ node }}, {{ round_number }})
{%- endmacro %}

{% macro default__node_priority(node, round_number) -%}
xxhash64({{ node }}, {{ round_number }})
{%- endmacro %}

{#- Comma-separated sorted distinct values of a string expression (an aggregate). -#}
{% macro distinct_list(expression) -%}
{{ return(adapter.dispatch('distinct_list', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__distinct_list(expression) -%}
string_agg(distinct {{ expression }}, ',' order by {{ expression }})
{%- endmacro %}

{% macro default__distinct_list(expression) -%}
array_join(array_sort(collect_set({{ expression }})), ',')
{%- endmacro %}

{#- Window functions skipping nulls: the last non-null value up to the current row, and the first
    non-null value from the current row on (within the window's partition and order). -#}
{% macro last_non_null(expression) -%}
{{ return(adapter.dispatch('last_non_null', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__last_non_null(expression) -%}
last_value({{ expression }} ignore nulls)
{%- endmacro %}

{% macro default__last_non_null(expression) -%}
last_value({{ expression }}, true)
{%- endmacro %}

{% macro first_non_null(expression) -%}
{{ return(adapter.dispatch('first_non_null', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__first_non_null(expression) -%}
first_value({{ expression }} ignore nulls)
{%- endmacro %}

{% macro default__first_non_null(expression) -%}
first_value({{ expression }}, true)
{%- endmacro %}
