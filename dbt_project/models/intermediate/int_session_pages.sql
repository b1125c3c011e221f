-- Page views in session order (the sessions model's split), for transitions and paths.
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['analytics']['session_gap_minutes'] * 60000 %}

with

events as (
    select person_id, event_id, event_name, screen_name, client_time_ms
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

final as (
    select
        person_id,
        cast(session_number as bigint) as session_number,
        screen_name as page,
        cast(row_number() over (
            partition by person_id, session_number order by client_time_ms, event_id
        ) as bigint) as page_position
    from numbered
    where event_name = 'page_view' and screen_name is not null
)

select * from final
