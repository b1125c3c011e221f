{#- int_session_events: incremental on DuckDB, rebuilt in full on Spark. -#}
{% macro session_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_', select_macro='session_events_sql')) }}
{% endmacro %}

{#- What an incremental build of int_session_events renumbers: per person, every event from the person's
    earliest changed one on. Changed: an attributed event written or moved since this table's last build
    (int_events_attributed.built_as_of_date on or after its last as-of date), and an event numbered here that is gone
    from int_events_attributed or belongs to another person now (then both persons are renumbered): looked
    for, exactly, only among the persons whose count or checksum of event ids differs between the two tables.
    The earlier events keep their numbers; the renumbering continues from the person's last kept event.
    Those persons and times go to the scratch table __restate_<model> (dropped after the build); their
    rows from those times on are deleted here, only
    with apply=true (the model's pre-hook, in the model's transaction); rendering only reads. A first build,
    --full-refresh, a table built before built_as_of_date existed, other business rules, a last build that
    stopped between its deletes and its insert (its scratch table is still there), and a build for an
    earlier as-of date than the last one renumber everything. Returns {'full': bool, 'scratch': relation}. -#}
{% macro session_events_restatement(apply=false) %}
    {%- set last = fundcdp.incremental_last_build('__restate_', ['built_as_of_date', 'person_key'], apply=apply) -%}
    {%- if last is none -%}
        {{ return(fundcdp.full_build_in_buckets(ref('int_events_attributed'), apply)) }}
    {%- endif -%}
    {%- set as_of = var('as_of_date') -%}
    {%- set attributed = ref('int_events_attributed') -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if apply -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with
            -- per person, the events each table holds: a count and a sum of 64-bit hashes of the event
            -- ids (two aggregates, instead of joining every numbered event to every attributed one)
            expected as (
                select person_id, count(*) as events, sum({{ fundcdp.hash64('event_id') }}) as checksum
                from {{ attributed }}
                where person_id is not null and event_date <= cast('{{ as_of }}' as date)
                group by person_id
            ),
            numbered_sums as (
                select person_id, count(*) as events, sum({{ fundcdp.hash64('event_id') }}) as checksum
                from {{ this }}
                group by person_id
            ),
            -- the persons whose events differ: new events (below), and events gone or moved to another person
            differing as (
                select coalesce(expected.person_id, numbered_sums.person_id) as person_id
                from expected
                full outer join numbered_sums on expected.person_id = numbered_sums.person_id
                where expected.events is distinct from numbered_sums.events
                    or expected.checksum is distinct from numbered_sums.checksum
            ),
            changed as (
                select person_id, client_time_ms
                from {{ attributed }}
                -- written since this table's last build
                where {{ fundcdp.built_since(last) }} and person_id is not null
                    and event_date <= cast('{{ as_of }}' as date)
                union all
                -- exactly, for those persons only: their numbered events gone from int_events_attributed or
                -- now another person's (that person differs too, so its events are among those compared)
                select numbered.person_id, numbered.client_time_ms
                from {{ this }} as numbered
                inner join differing on numbered.person_id = differing.person_id
                left join (
                    select event_id, person_id
                    from {{ attributed }}
                    where person_id in (select person_id from differing)
                ) as attributed on numbered.event_id = attributed.event_id
                where attributed.event_id is null or attributed.person_id is distinct from numbered.person_id
            )
            select person_id, min(client_time_ms) as restate_from_ms
            from changed
            group by person_id
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as numbered using ' ~ scratch ~ ' as restated'
            ~ ' where numbered.person_id = restated.person_id'
            ~ ' and numbered.client_time_ms >= restated.restate_from_ms'
        ) -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch}) }}
{% endmacro %}


{#- The select of int_session_events for `restate` (session_events_restatement()); on a full build, only
    the persons of bucket `bucket` of `buckets` (macro bucket_predicate). Persons are partitioned by their
    integer key (macro person_key), so the windows sort integers rather than 17-character strings. -#}
{% macro session_events_sql(restate, bucket=0, buckets=1) %}
{%- set as_of = var('as_of_date') %}
{%- set gap_ms = var('fundcdp')['analytics']['session_gap_minutes'] * 60000 %}
{%- set person_order = 'partition by person_key order by client_time_ms, event_id' %}
{%- set running = person_order ~ ' rows between unbounded preceding and current row' %}
{#- Columns only passed through. A full build numbers on the four columns the windows need and joins
    these back by event_id (sorting 9M wide rows twice took 15 s at SF1, narrow ones and the join 11 s); an
    incremental build, whose few rows sort quickly, carries them through the windows instead. -#}
{%- set carried = ['event_name', 'screen_name', 'event_at', 'platform', 'utm_source'] %}
{%- set carried_from = 'carried' if restate['full'] else 'numbered' %}

with

events as (
    select
        attributed.person_id, {{ fundcdp.person_key('attributed.person_id') }} as person_key,
        attributed.event_id, attributed.client_time_ms,
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
        and {{ fundcdp.bucket_predicate('attributed.person_id', bucket, buckets) }}
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

{%- if restate['full'] %}

carried as (
    select event_id, {{ carried | join(', ') }}
    from {{ ref('int_events_attributed') }}
    where person_id is not null and {{ fundcdp.bucket_predicate('person_id', bucket, buckets) }}
),
{%- endif %}

final as (
    select
        numbered.person_id,
        numbered.person_key,
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
    inner join carried on numbered.event_id = carried.event_id
    {%- endif %}
)

select * from final
{% endmacro %}
