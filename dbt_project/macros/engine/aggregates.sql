{#- Aggregate: the non-null `value` of the group's first row in the order of `order_columns` (a list of
    column expressions, the later ones breaking ties of the earlier), null if every value is null. One
    pass over the group, no window: a row_number over its own partition sorted every event once more. -#}
{% macro first_non_null_by(value, order_columns) -%}
{{ return(adapter.dispatch('first_non_null_by', 'fundcdp')(value, order_columns)) }}
{%- endmacro %}

{% macro duckdb__first_non_null_by(value, order_columns) -%}
arg_min({{ value }}, {{ fundcdp.duckdb__ordering_key(order_columns) }}) filter (where {{ value }} is not null)
{%- endmacro %}

{% macro default__first_non_null_by(value, order_columns) -%}
min_by({{ value }}, struct({{ order_columns | join(', ') }})) filter (where {{ value }} is not null)
{%- endmacro %}

{#- Aggregate: `value` of the group's first row in the order of `order_columns`, null or not. -#}
{% macro first_by(value, order_columns) -%}
{{ return(adapter.dispatch('first_by', 'fundcdp')(value, order_columns)) }}
{%- endmacro %}

{#- arg_min skips the rows whose value is null; arg_min_null does not. -#}
{% macro duckdb__first_by(value, order_columns) -%}
arg_min_null({{ value }}, {{ fundcdp.duckdb__ordering_key(order_columns) }})
{%- endmacro %}

{% macro default__first_by(value, order_columns) -%}
min_by({{ value }}, struct({{ order_columns | join(', ') }}))
{%- endmacro %}

{#- DuckDB: the ordering columns as one struct, compared field by field. -#}
{% macro duckdb__ordering_key(order_columns) -%}
struct_pack({% for column in order_columns %}k{{ loop.index }} := {{ column }}{{ ', ' if not loop.last }}{% endfor %})
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
