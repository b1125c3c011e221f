{{ config(pre_hook="{% do fundcdp.session_events_restatement(apply=true) %}", **fundcdp.session_events_config()) }}
-- Valid attributed events numbered into sessions: a new session starts after
-- vars fundcdp.analytics.session_gap_minutes (30) without an event. Keyed on person_id, so a session
-- continues across a login. page_position numbers the page views within the session.
-- Every window runs over (partition by person_id order by client_time_ms, event_id), which DuckDB sorts
-- once per select: page_position is the person's running count of page views minus that count just
-- before the session started, instead of a row_number partitioned by session (a third sort of every
-- event: 640 s of the SF10 build had three).
-- Incremental on DuckDB (macro session_events_restatement): a daily build renumbers each person touched
-- by the build from their earliest changed event on, continuing from the person's last event before it.
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['analytics']['session_gap_minutes'] * 60000 %}
{%- set person_order = 'partition by person_id order by client_time_ms, event_id' %}
{%- set running = person_order ~ ' rows between unbounded preceding and current row' %}
{%- set restate = fundcdp.session_events_restatement() %}
{#- Columns only passed through. A full build numbers on the four columns the windows need and joins
    these back by event_id (sorting 9M wide rows twice took 15 s at SF1, narrow ones and the join 11 s); an
    incremental build, whose few rows sort quickly, carries them through the windows instead. -#}
{%- set carried = ['event_name', 'screen_name', 'event_at', 'platform', 'utm_source'] %}
{%- set carried_from = 'attributed' if restate['full'] else 'numbered' %}

with

events as (
    select
        attributed.person_id, attributed.event_id, attributed.client_time_ms,
        {%- if not restate['full'] %}
        {%- for column in carried %}
        attributed.{{ column }},
        {%- endfor %}
        {%- endif %}
        case
            when attributed.event_name = 'page_view' and attributed.screen_name is not null then 1 else 0
        end as is_page
    from {{ ref('int_events_attributed') }} as attributed
    {%- if not restate['full'] %}
    inner join {{ restate['scratch'] }} as restated on attributed.person_id = restated.person_id
    {%- endif %}
    where attributed.person_id is not null and attributed.event_date <= cast('{{ as_of }}' as date)
    {%- if not restate['full'] %}
        and attributed.client_time_ms >= restated.restate_from_ms
    {%- endif %}
),
{%- if not restate['full'] %}

-- the person's last event kept (before the renumbered ones): its time, session and the page views of
-- that session so far
last_kept as (
    select kept.person_id, max(kept.session_number) as session_number, max(kept.client_time_ms) as client_time_ms
    from {{ this }} as kept
    inner join {{ restate['scratch'] }} as restated on kept.person_id = restated.person_id
    group by kept.person_id
),

carry as (
    select
        last_kept.person_id,
        last_kept.session_number,
        last_kept.client_time_ms,
        coalesce(max(kept.page_position), 0) as session_pages
    from last_kept
    inner join {{ this }} as kept
        on last_kept.person_id = kept.person_id and last_kept.session_number = kept.session_number
    group by last_kept.person_id, last_kept.session_number, last_kept.client_time_ms
),

continued as (
    select
        events.*,
        carry.client_time_ms as carry_time_ms,
        carry.session_number as carry_session_number,
        carry.session_pages as carry_pages
    from events
    left join carry on events.person_id = carry.person_id
),
{%- else %}

continued as (
    select
        *,
        cast(null as bigint) as carry_time_ms,
        cast(null as bigint) as carry_session_number,
        cast(null as bigint) as carry_pages
    from events
),
{%- endif %}

gaps as (
    select
        *,
        client_time_ms - coalesce(lag(client_time_ms) over ({{ person_order }}), carry_time_ms) as gap_ms,
        coalesce(carry_pages, 0) + sum(is_page) over ({{ running }}) as pages_so_far
    from continued
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
        coalesce(carry_session_number, 0) + sum(is_session_start) over ({{ running }}) as session_number,
        -- page views before the current session's first event (pages_so_far only grows); none when the
        -- events continue the session of the person's last kept event (its page views are in carry_pages)
        coalesce(
            max(case when is_session_start = 1 then pages_so_far - is_page end) over ({{ running }}), 0
        ) as pages_before_session
    from starts
),

final as (
    select
        numbered.person_id,
        cast(numbered.session_number as bigint) as session_number,
        numbered.event_id,
        {%- for column in carried[:3] %}
        {{ carried_from }}.{{ column }},
        {%- endfor %}
        numbered.client_time_ms,
        {%- for column in carried[3:] %}
        {{ carried_from }}.{{ column }},
        {%- endfor %}
        cast(
            case when numbered.is_page = 1 then numbered.pages_so_far - numbered.pages_before_session end
            as bigint
        ) as page_position,
        cast('{{ as_of }}' as date) as built_as_of_date
    from numbered
    {%- if restate['full'] %}
    inner join {{ ref('int_events_attributed') }} as attributed on numbered.event_id = attributed.event_id
    {%- endif %}
)

select * from final
