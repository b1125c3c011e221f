{{ config(pre_hook="{% do fundcdp.page_contributions_restatement(apply=true) %}", **fundcdp.page_contributions_config()) }}
-- Each person's share of the page_transitions mart: how often a page view of from_page is followed (next
-- page view in the same session) by to_page (grain: person_id, from_page, to_page). person_page_views: the
-- person's page views in int_session_events when this was built (how an incremental build sees page views
-- taken away).
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

steps as (
    select
        page as from_page,
        lead(page) over (partition by person_id, session_number order by page_position) as to_page,
        person_id
    from pages
),

final as (
    select
        steps.person_id,
        steps.from_page,
        steps.to_page,
        cast(count(*) as bigint) as transitions,
        cast(person_pages.person_page_views as bigint) as person_page_views,
        cast('{{ var('as_of_date') }}' as date) as built_as_of_date
    from steps
    inner join person_pages on steps.person_id = person_pages.person_id
    where steps.to_page is not null
    group by steps.person_id, steps.from_page, steps.to_page, person_pages.person_page_views
)

select * from final
