-- Valid attributed events numbered into sessions: a new session starts after
-- vars fundcdp.analytics.session_gap_minutes (30) without an event. Keyed on person_id, so a session
-- continues across a login. page_position numbers the page views within the session.
-- Every window runs over (partition by person_id order by client_time_ms, event_id), which DuckDB sorts
-- once per select: page_position is the person's running count of page views minus that count just
-- before the session started, instead of a row_number partitioned by session (a third sort of every
-- event: 640 s of the SF10 build had three).
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['analytics']['session_gap_minutes'] * 60000 %}
{%- set person_order = 'partition by person_id order by client_time_ms, event_id' %}
{%- set running = person_order ~ ' rows between unbounded preceding and current row' %}

with

events as (
    select
        person_id, event_id, event_name, screen_name, event_at, client_time_ms, platform, utm_source,
        case when event_name = 'page_view' and screen_name is not null then 1 else 0 end as is_page
    from {{ ref('int_events_attributed') }}
    where person_id is not null and event_date <= cast('{{ as_of }}' as date)
),

gaps as (
    select
        *,
        client_time_ms - lag(client_time_ms) over ({{ person_order }}) as gap_ms,
        sum(is_page) over ({{ running }}) as pages_so_far
    from events
),

starts as (
    select
        *,
        case when gap_ms is null or gap_ms > {{ gap_ms }} then 1 else 0 end as is_session_start
    from gaps
),

numbered as (
    select
        *,
        sum(is_session_start) over ({{ running }}) as session_number,
        -- page views before the current session's first event (pages_so_far only grows)
        max(case when is_session_start = 1 then pages_so_far - is_page end) over ({{ running }})
            as pages_before_session
    from starts
),

final as (
    select
        person_id,
        cast(session_number as bigint) as session_number,
        event_id,
        event_name,
        screen_name,
        event_at,
        client_time_ms,
        platform,
        utm_source,
        cast(case when is_page = 1 then pages_so_far - pages_before_session end as bigint) as page_position
    from numbered
)

select * from final
