-- The first five pages of every session with at least five page views, as a path
-- ("home > fund_market > fund_detail > …"), counted: the sum of each person's share
-- (int_page_paths_by_person, incremental on DuckDB), so a daily build reads no session event.
with

final as (
    select
        path,
        cast(sum(sessions) as bigint) as sessions,
        cast(count(*) as bigint) as persons
    from {{ ref('int_page_paths_by_person') }}
    group by path
)

select * from final
