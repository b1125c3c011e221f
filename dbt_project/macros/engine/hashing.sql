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
