{{ config(pre_hook="{% do fundcdp.person_tags_restatement(fundcdp.tag_columns(), apply=true) %}",
    **fundcdp.person_tags_config()) }}
-- The tags in long form for marketing tools: one row per person and tag with a value (tags without a
-- value for the person are left out), the value as text. tag_code joins tag_catalog.
-- Incremental on DuckDB (macro person_tags_restatement): a daily build rewrites the rows of the persons
-- whose row in a tag table changed since its last build; the other rows take the new as-of date.
-- depends_on: {{ ref('tags_basic') }}, {{ ref('tags_account') }}, {{ ref('tags_business') }}
-- depends_on: {{ ref('tags_activity') }}, {{ ref('tags_value') }}
{%- set columns = fundcdp.tag_columns() %}
{%- set restate = fundcdp.person_tags_restatement(columns) %}
{%- set selects = [] %}
{%- for tag in columns %}
    {%- set select = fundcdp.tag_value_selects([tag])[0] %}
    {%- if not restate['full'] and tag['table'] not in restate['whole'] %}
        {%- set select = select ~ " and person_id in (select person_id from " ~ restate['scratch']
            ~ " where tag_table = '" ~ tag['table'] ~ "')" %}
    {%- endif %}
    {%- do selects.append(select) %}
{%- endfor %}

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
