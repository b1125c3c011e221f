-- The acquisition funnel per person: when each step was first reached, in order, within
-- vars fundcdp.analytics.funnel_window_days of the landing page view (step 1). Other events may come
-- between steps; each step counts from the previous step's time on; a repeat purchase is a second purchase
-- after the first. One row per person who viewed a landing page.
{%- set as_of = var('as_of_date') %}
{%- set window_ms = var('fundcdp')['analytics']['funnel_window_days'] * 86400000 %}
{%- set steps = [
    ('activated', "event_name = 'app_activate'"),
    ('registered', "event_name = 'sign_up'"),
    ('account_opened', "event_name = 'open_account'"),
    ('card_bound', "event_name = 'bind_card'"),
    ('first_purchase', "event_name = 'purchase'"),
    ('repeat_purchase', "event_name = 'purchase'"),
] %}

with

events as (
    select person_id, event_id, event_name, screen_name, event_at, client_time_ms, platform, utm_source
    from {{ ref('int_events_attributed') }}
    where person_id is not null and event_date <= cast('{{ as_of }}' as date)
),

landings as (
    select person_id, event_at as landed_at, client_time_ms as landed_ms, platform, utm_source
    from (
        select
            *,
            row_number() over (partition by person_id order by client_time_ms, event_id) as landing_rank
        from events
        where event_name = 'page_view' and screen_name = 'landing'
    ) as ranked
    where landing_rank = 1
),

step_0 as (
    select person_id, landed_at, landed_ms, landed_ms as previous_ms, platform, utm_source
    from landings
),
{%- set carried = ['person_id', 'landed_at', 'landed_ms', 'platform', 'utm_source'] %}
{%- for name, condition in steps %}
{%- set previous = 'step_' ~ loop.index0 %}

step_{{ loop.index }} as (
    select
        {%- for column in carried %}
        {{ previous }}.{{ column }},
        {%- endfor %}
        reached.{{ name }}_at,
        (reached.reached_ms - {{ previous }}.landed_ms) / 3600000.0 as hours_to_{{ name }},
        reached.reached_ms as previous_ms
    from {{ previous }}
    left join (
        select
            {{ previous }}.person_id,
            min(events.event_at) as {{ name }}_at,
            min(events.client_time_ms) as reached_ms
        from {{ previous }}
        inner join events
            on events.person_id = {{ previous }}.person_id
            and events.{{ condition }}
            and events.client_time_ms {{ '>' if name == 'repeat_purchase' else '>=' }} {{ previous }}.previous_ms
            and events.client_time_ms <= {{ previous }}.landed_ms + {{ window_ms }}
        group by {{ previous }}.person_id
    ) as reached
        on reached.person_id = {{ previous }}.person_id
),
{%- do carried.append(name ~ '_at') %}
{%- do carried.append('hours_to_' ~ name) %}
{%- endfor %}

final as (
    select
        person_id,
        cast(landed_at as date) as cohort_date,
        coalesce(utm_source, 'organic') as first_touch_channel,
        platform as landing_platform,
        landed_at,
        {%- for name, _ in steps %}
        {{ name }}_at,
        {%- endfor %}
        {%- for name, _ in steps %}
        cast(hours_to_{{ name }} as double) as hours_to_{{ name }},
        {%- endfor %}
        cast('{{ as_of }}' as date) as as_of_date
    from step_{{ steps | length }}
)

select * from final
