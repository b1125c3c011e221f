-- The analysts' wide table: one row per person with every tag of the five tag tables (their columns,
-- in dimension order). Generated from the tag tables, so a new tag column appears here by itself.
-- depends_on: {{ ref('tags_basic') }}, {{ ref('tags_account') }}, {{ ref('tags_business') }}
-- depends_on: {{ ref('tags_activity') }}, {{ ref('tags_value') }}
{%- set columns = fundcdp.tag_columns() %}

with

final as (
    select
        tags_basic.person_id,
        {%- for tag in columns %}
        {{ tag['table'] }}.{{ tag['column'] }},
        {%- endfor %}
        tags_basic.as_of_date
    from {{ ref('tags_basic') }} as tags_basic
    {%- for table in fundcdp.tag_tables()[1:] %}
    inner join {{ ref(table) }} as {{ table }} on tags_basic.person_id = {{ table }}.person_id
    {%- endfor %}
)

select * from final
