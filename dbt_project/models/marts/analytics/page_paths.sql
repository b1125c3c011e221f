-- The first five pages of every session with at least five page views, as a path
-- ("home > fund_market > fund_detail > …"), counted.
with

pages as (
    select person_id, session_number, screen_name as page, page_position
    from {{ ref('int_session_events') }}
    where page_position <= 5
),

paths as (
    select
        person_id,
        session_number,
        {%- for position in range(1, 6) %}
        max(case when page_position = {{ position }} then page end) as page_{{ position }}{{ "," if not loop.last }}
        {%- endfor %}
    from pages
    group by person_id, session_number
),

final as (
    select
        concat_ws(' > ', page_1, page_2, page_3, page_4, page_5) as path,
        cast(count(*) as bigint) as sessions,
        cast(count(distinct person_id) as bigint) as persons
    from paths
    where page_5 is not null
    group by concat_ws(' > ', page_1, page_2, page_3, page_4, page_5)
)

select * from final
