{{ config(pre_hook="{% do fundcdp.page_contributions_restatement(apply=true) %}", **fundcdp.page_contributions_config()) }}
-- Each person's share of the page_paths mart: the first five pages of the person's sessions with at least
-- five page views, as a path, counted (grain: person_id, path). person_page_views: the person's page views
-- in int_session_events when this was built (how an incremental build sees page views taken away).
-- Incremental on DuckDB (macro page_contributions_restatement): a daily build recomputes the persons whose
-- sessions int_session_events renumbered since, or whose page views there changed.
{%- set restate = fundcdp.page_contributions_restatement() %}
with

pages as (
    {{ fundcdp.page_views_of_restated(restate) }}
),

person_pages as (
    select person_id, count(*) as person_page_views
    from pages
    group by person_id
),

paths as (
    select
        person_id,
        session_number,
        {%- for position in range(1, 6) %}
        max(case when page_position = {{ position }} then page end) as page_{{ position }}{{ "," if not loop.last }}
        {%- endfor %}
    from pages
    where page_position <= 5
    group by person_id, session_number
),

final as (
    select
        paths.person_id,
        concat_ws(' > ', paths.page_1, paths.page_2, paths.page_3, paths.page_4, paths.page_5) as path,
        cast(count(*) as bigint) as sessions,
        cast(person_pages.person_page_views as bigint) as person_page_views,
        cast('{{ var('as_of_date') }}' as date) as built_as_of_date
    from paths
    inner join person_pages on paths.person_id = person_pages.person_id
    where paths.page_5 is not null
    group by paths.person_id, concat_ws(' > ', paths.page_1, paths.page_2, paths.page_3, paths.page_4, paths.page_5),
        person_pages.person_page_views
)

select * from final
