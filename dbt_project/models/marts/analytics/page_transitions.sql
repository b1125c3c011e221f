-- Page-to-page transitions inside sessions: how often a page view of from_page is followed (next page
-- view in the same session) by to_page; the sum of each person's share (int_page_transitions_by_person,
-- incremental on DuckDB), so a daily build reads no session event.
with

final as (
    select
        from_page,
        to_page,
        cast(sum(transitions) as bigint) as transitions,
        cast(count(*) as bigint) as persons
    from {{ ref('int_page_transitions_by_person') }}
    group by from_page, to_page
)

select * from final
