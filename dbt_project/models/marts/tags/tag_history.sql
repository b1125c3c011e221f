{{ config(materialized='incremental', on_schema_change='fail', **fundcdp.incremental_by_date_config('as_of_date')) }}
-- Changes of the tags that move (vars fundcdp.tags.history_tags), one partition per as-of date: a row
-- when a person's value differs from their latest earlier value in this table, or when the person
-- has no earlier value. The first run records everyone. Rebuilding a date replaces its partition only;
-- after a re-run of a past date, re-run the dates after it in order.
-- The value on any date D is the latest row on or before D.
-- depends_on: {{ ref('tags_basic') }}, {{ ref('tags_account') }}, {{ ref('tags_business') }}
-- depends_on: {{ ref('tags_activity') }}, {{ ref('tags_value') }}
{%- set tracked = var('fundcdp')['tags']['history_tags'] %}
{%- set columns = [] %}
{%- for tag in fundcdp.tag_columns() %}
    {%- if tag['column'] in tracked %}{% do columns.append(tag) %}{% endif %}
{%- endfor %}
{%- set selects = fundcdp.tag_value_selects(columns, keep_nulls=true) %}
{%- set as_of_date = "cast('" ~ var('as_of_date') ~ "' as date)" %}

with

current_values as (
    {%- if selects %}
    {{ selects | join('\n    union all\n    ') }}
    {%- else %}
    select person_id, '' as tag_code, '' as tag_value, as_of_date from {{ ref('tags_basic') }}
    {%- endif %}
),

{%- if is_incremental() %}

previous_values as (
    select person_id, tag_code, tag_value
    from (
        select
            person_id,
            tag_code,
            tag_value,
            row_number() over (partition by person_id, tag_code order by as_of_date desc) as recency
        from {{ this }}
        where as_of_date < {{ as_of_date }}
    ) as ranked
    where recency = 1
),

{%- endif %}

changes as (
    select
        current_values.person_id,
        current_values.tag_code,
        current_values.tag_value,
        {%- if is_incremental() %}
        previous_values.tag_value as previous_value,
        previous_values.person_id is not null as had_previous_value
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as previous_value,
        false as had_previous_value
        {%- endif %}
    from current_values
    {%- if is_incremental() %}
    left join previous_values
        on current_values.person_id = previous_values.person_id
        and current_values.tag_code = previous_values.tag_code
    {%- endif %}
),

final as (
    select
        person_id,
        tag_code,
        tag_value,
        previous_value,
        had_previous_value,
        {{ as_of_date }} as as_of_date
    from changes
    where not had_previous_value
        or coalesce(tag_value, '<null>') <> coalesce(previous_value, '<null>')
)

select * from final
