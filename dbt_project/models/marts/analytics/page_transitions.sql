-- Page-to-page transitions inside sessions: how often a page view of from_page is followed (next page
-- view in the same session) by to_page.
with

pages as (
    select person_id, session_number, screen_name as page, page_position
    from {{ ref('int_session_events') }}
    where page_position is not null
),

steps as (
    select
        page as from_page,
        lead(page) over (partition by person_id, session_number order by page_position) as to_page,
        person_id,
        session_number
    from pages
),

final as (
    select
        from_page,
        to_page,
        cast(count(*) as bigint) as transitions,
        cast(count(distinct person_id) as bigint) as persons
    from steps
    where to_page is not null
    group by from_page, to_page
)

select * from final
