-- Sessions per person: a new session starts after vars fundcdp.analytics.session_gap_minutes (30) without
-- an event. Keyed on person_id, so a session continues across a login (the anonymous events before it are
-- the same person's). First page (screen of the first page view) and channel (utm_source of the first
-- event carrying one, else direct) per session.
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['analytics']['session_gap_minutes'] * 60000 %}

with

events as (
    select person_id, event_id, event_name, screen_name, event_at, client_time_ms, platform, utm_source
    from {{ ref('int_events_attributed') }}
    where person_id is not null and event_date <= cast('{{ as_of }}' as date)
),

gaps as (
    select
        *,
        case
            when lag(client_time_ms) over (partition by person_id order by client_time_ms, event_id) is null
                or client_time_ms - lag(client_time_ms) over (partition by person_id order by client_time_ms, event_id)
                    > {{ gap_ms }}
                then 1
            else 0
        end as starts_session
    from events
),

numbered as (
    select
        *,
        sum(starts_session) over (
            partition by person_id order by client_time_ms, event_id rows between unbounded preceding and current row
        ) as session_number
    from gaps
),

first_pages as (
    select person_id, session_number, screen_name as first_page
    from (
        select
            *,
            row_number() over (partition by person_id, session_number order by client_time_ms, event_id) as page_rank
        from numbered
        where event_name = 'page_view' and screen_name is not null
    ) as pages
    where page_rank = 1
),

channels as (
    select person_id, session_number, utm_source as channel
    from (
        select
            *,
            row_number() over (partition by person_id, session_number order by client_time_ms, event_id) as touch_rank
        from numbered
        where utm_source is not null
    ) as touches
    where touch_rank = 1
),

platforms as (
    select person_id, session_number, platform
    from (
        select
            *,
            row_number() over (partition by person_id, session_number order by client_time_ms, event_id) as event_rank
        from numbered
    ) as ranked
    where event_rank = 1
),

summary as (
    select
        person_id,
        session_number,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        (max(client_time_ms) - min(client_time_ms)) / 1000.0 as duration_seconds,
        count(*) as events,
        sum(case when event_name = 'page_view' then 1 else 0 end) as page_views
    from numbered
    group by person_id, session_number
),

final as (
    select
        summary.person_id || '-' || cast(summary.session_number as {{ dbt.type_string() }}) as session_id,
        summary.person_id,
        cast(summary.session_number as bigint) as session_number,
        summary.started_at,
        summary.ended_at,
        cast(summary.duration_seconds as double) as duration_seconds,
        cast(summary.events as bigint) as events,
        cast(summary.page_views as bigint) as page_views,
        first_pages.first_page,
        coalesce(channels.channel, 'direct') as channel,
        platforms.platform,
        cast(summary.started_at as date) as session_date
    from summary
    left join first_pages
        on summary.person_id = first_pages.person_id and summary.session_number = first_pages.session_number
    left join channels
        on summary.person_id = channels.person_id and summary.session_number = channels.session_number
    left join platforms
        on summary.person_id = platforms.person_id and summary.session_number = platforms.session_number
)

select * from final
