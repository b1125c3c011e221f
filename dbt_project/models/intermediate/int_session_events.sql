-- Valid attributed events numbered into sessions: a new session starts after
-- vars fundcdp.analytics.session_gap_minutes (30) without an event. Keyed on person_id, so a session
-- continues across a login. page_position numbers the page views within the session.
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
        client_time_ms - lag(client_time_ms) over (partition by person_id order by client_time_ms, event_id)
            as gap_ms
    from events
),

numbered as (
    select
        *,
        sum(case when gap_ms is null or gap_ms > {{ gap_ms }} then 1 else 0 end) over (
            partition by person_id order by client_time_ms, event_id rows between unbounded preceding and current row
        ) as session_number
    from gaps
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
        cast(case
            when event_name = 'page_view' and screen_name is not null
                then row_number() over (
                    partition by person_id, session_number,
                        case when event_name = 'page_view' and screen_name is not null then 0 else 1 end
                    order by client_time_ms, event_id
                )
        end as bigint) as page_position
    from numbered
)

select * from final
