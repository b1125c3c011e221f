-- The tags in long form for marketing tools: one row per person and tag with a value (tags without a
-- value for the person are left out), the value as text. tag_code joins tag_catalog.
-- depends_on: {{ ref('tags_basic') }}, {{ ref('tags_account') }}, {{ ref('tags_business') }}
-- depends_on: {{ ref('tags_activity') }}, {{ ref('tags_value') }}
{%- set selects = fundcdp.tag_value_selects(fundcdp.tag_columns()) %}

with

tag_values as (
    {%- if selects %}
    {{ selects | join('\n    union all\n    ') }}
    {%- else %}
    select person_id, '' as tag_code, '' as tag_value, as_of_date from {{ ref('tags_basic') }}
    {%- endif %}
),

final as (
    select person_id, tag_code, tag_value, as_of_date
    from tag_values
)

select * from final
