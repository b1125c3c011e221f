-- Sessions per person (split in int_session_events: 30 minutes without an event; a session continues
-- across a login). First page (screen of the first page view) and channel (utm_source of the first event
-- carrying one, else direct) per session.
-- Incremental on DuckDB (macro sessions_restatement): a daily build rewrites the sessions whose events
-- int_session_events numbered since, or that differ from it; a first build, --full-refresh and Spark
-- build everything.
{{ config(pre_hook="{% do fundcdp.sessions_restatement(apply=true) %}", **fundcdp.sessions_config()) }}
{%- set restate = fundcdp.sessions_restatement() %}
with

numbered as (
    select numbered.*
    from {{ ref('int_session_events') }} as numbered
    {%- if not restate['full'] %}
    inner join {{ restate['scratch'] }} as restated
        on numbered.person_id = restated.person_id and numbered.session_number = restated.session_number
    {%- endif %}
),

first_pages as (
    select person_key, session_number, screen_name as first_page
    from numbered
    where page_position = 1
),

summary as (
    -- grouped on the person's integer key (macro person_key), not the 17-character person id
    select
        person_key,
        session_number,
        any_value(person_id) as person_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        (max(client_time_ms) - min(client_time_ms)) / 1000.0 as duration_seconds,
        count(*) as events,
        sum(case when event_name = 'page_view' then 1 else 0 end) as page_views,
        -- the first event's platform and the first utm_source: aggregates, not row_number windows (each
        -- of those sorted every event of the build once more)
        {{ fundcdp.first_by('platform', ['client_time_ms', 'event_id']) }} as platform,
        {{ fundcdp.first_non_null_by('utm_source', ['client_time_ms', 'event_id']) }} as channel
    from numbered
    group by person_key, session_number
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
        coalesce(summary.channel, 'direct') as channel,
        summary.platform,
        cast(summary.started_at as date) as session_date,
        cast('{{ var('as_of_date') }}' as date) as built_as_of_date
    from summary
    left join first_pages
        on summary.person_key = first_pages.person_key and summary.session_number = first_pages.session_number
)

select * from final
