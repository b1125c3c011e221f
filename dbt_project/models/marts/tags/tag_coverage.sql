-- Coverage per tag: the share of persons with a value, as of the as-of date. One row per catalogued tag of
-- the five tag tables (the model tags of tags_model, written after dbt, report theirs in model_runs and in
-- the metadata of the asset marts/tags_model).
-- depends_on: {{ ref('tags_basic') }}, {{ ref('tags_account') }}, {{ ref('tags_business') }}
-- depends_on: {{ ref('tags_activity') }}, {{ ref('tags_value') }}

with

catalog as (
    select tag_code, tag_table, dimension from {{ ref('tag_catalog') }}
    where tag_table in ('{{ fundcdp.tag_tables() | join("', '") }}')
),

counts as (
    {%- set selects = [] %}
    {%- for tag in fundcdp.tag_columns() %}
        {%- do selects.append(
            "select '" ~ tag['table'] ~ "' as tag_table, '" ~ tag['column'] ~ "' as tag_code, count("
            ~ tag['column'] ~ ") as persons_with_value, count(*) as persons from " ~ ref(tag['table'])
        ) %}
    {%- endfor %}
    {%- if selects %}
    {{ selects | join('\n    union all\n    ') }}
    {%- else %}
    select '' as tag_table, '' as tag_code, 0 as persons_with_value, 0 as persons
    {%- endif %}
),

final as (
    select
        catalog.tag_code,
        catalog.tag_table,
        catalog.dimension,
        cast(coalesce(counts.persons_with_value, 0) as bigint) as persons_with_value,
        cast(coalesce(counts.persons, 0) as bigint) as persons,
        cast(
            case when coalesce(counts.persons, 0) = 0 then 0 else counts.persons_with_value * 1.0 / counts.persons end
            as double
        ) as coverage_share,
        cast('{{ var("as_of_date") }}' as date) as as_of_date
    from catalog
    left join counts on catalog.tag_code = counts.tag_code and catalog.tag_table = counts.tag_table
)

select * from final
