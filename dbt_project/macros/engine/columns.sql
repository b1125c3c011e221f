{#- The column list of `relation` without `excluded` (lower-case names), in table order; `*` while
    parsing or before the relation exists (nothing is built from that rendering). -#}
{% macro columns_except(relation, excluded) %}
    {%- set columns = adapter.get_columns_in_relation(relation)
        if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is not none
        else [] -%}
    {%- set kept = [] -%}
    {%- for column in columns if column.name | lower not in excluded -%}
        {%- do kept.append(adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{ return(kept | join(', ') if kept else '*') }}
{% endmacro %}
