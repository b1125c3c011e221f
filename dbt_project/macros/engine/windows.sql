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
