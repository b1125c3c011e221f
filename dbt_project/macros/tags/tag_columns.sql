{#- The five tag tables, in dimension order. -#}
{% macro tag_tables() %}
    {{ return(['tags_basic', 'tags_account', 'tags_business', 'tags_activity', 'tags_value']) }}
{% endmacro %}

{#- Every tag column of the tag tables: [{'table': ..., 'column': ...}], read from the built relations
    (empty while dbt parses). The models built from it list their refs in depends_on comments. -#}
{% macro tag_columns() %}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- for table in fundcdp.tag_tables() -%}
            {%- for column in adapter.get_columns_in_relation(ref(table)) -%}
                {%- if column.name not in ('person_id', 'as_of_date') -%}
                    {%- do columns.append({'table': table, 'column': column.name}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(columns) }}
{% endmacro %}

{#- One select per tag column: person_id, tag_code, the value as a string, as_of_date. -#}
{% macro tag_value_selects(columns, keep_nulls=false) %}
    {%- set selects = [] -%}
    {%- for tag in columns -%}
        {%- do selects.append(
            "select person_id, '" ~ tag['column'] ~ "' as tag_code, cast(" ~ tag['column'] ~ " as "
            ~ dbt.type_string() ~ ") as tag_value, as_of_date from " ~ ref(tag['table'])
            ~ ("" if keep_nulls else " where " ~ tag['column'] ~ " is not null")
        ) -%}
    {%- endfor -%}
    {{ return(selects) }}
{% endmacro %}
