{#- int_events_attributed: incremental by event day on DuckDB (appended after the restated days are
    deleted, as the daily aggregates); rebuilt in full on Spark (a person id cannot be updated in place
    in its Parquet tables). -#}
{% macro attributed_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__claims_')) }}
{% endmacro %}

{#- What an incremental build of int_events_attributed rewrites: every event from the earliest event
    day among the valid events delivered since the last run (and at least the last
    daily_aggregates.restate_days days), and, before that, the anonymous events a newly delivered first
    login of their device takes over (tracking_claims_ctes(); the scratch table __claims_<model>, dropped
    after the build). Returns daily_restatement()'s window plus 'claims', the scratch relation.
    Only reads while the model renders. With apply=true (the model's pre-hook, in the model's transaction)
    it creates the scratch table, deletes the restated days' rows and runs attributed_events_maintenance(). -#}
{% macro attributed_events_restatement(apply=false) %}
    {%- set claims = this.schema ~ '.__claims_' ~ this.identifier -%}
    {%- set changed_sql -%}
        {{ fundcdp.tracking_claims_ctes() }}
        select min(event_date) from arrived
    {%- endset -%}
    {%- set claims_sql -%}
        {{ fundcdp.tracking_claims_ctes() }}
        select anonymous_id, claimed_from from claims
    {%- endset -%}
    {#- Full instead: the last incremental build stopped between its deletes and its insert (its scratch
        table is still there), or an earlier event became valid again (a device no longer flagged), which
        the incremental path does not bring back. -#}
    {%- set force_full = fundcdp.unfinished_build('__claims_') -%}
    {%- if execute and this is not none and not force_full and is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- set last = run_query('select max(built_as_of_date) from ' ~ this).columns[0].values()[0]
            if 'built_as_of_date' in columns else none -%}
        {%- if last is not none -%}
            {%- set last_day = (last | string)[:10] -%}
            {#- Only rows the staging build wrote or re-classified since this table's last build can have
                become valid again (staged_as_of_date; on a re-run of that day, that day's too): those of
                earlier arrivals that are valid now and missing here. The inner `in` hashes the few
                candidates and probes this table's event ids, instead of an anti-join of every event. -#}
            {%- set revalidated_sql -%}
                with candidates as (
                    select event_id
                    from {{ ref('stg_tracking__events') }}
                    where exclusion_reason is null
                        and staged_as_of_date {{ '>=' if var('as_of_date') == last_day else '>' }} cast('{{ last_day }}' as date)
                        and arrival_date <= cast('{{ last_day }}' as date)
                        and event_date <= cast('{{ last_day }}' as date)
                ),
                present as (
                    select event_id from {{ this }} where event_id in (select event_id from candidates)
                )
                select count(*)
                from candidates
                left join present on candidates.event_id = present.event_id
                where present.event_id is null
            {%- endset -%}
            {%- set force_full = run_query(revalidated_sql).columns[0].values()[0] > 0 -%}
        {%- endif -%}
    {%- endif -%}
    {%- set window = fundcdp.daily_restatement('event_date', changed_sql, scratch_tables={claims: claims_sql},
        force_full=force_full, apply=apply) -%}
    {%- do window.update({'claims': claims}) -%}
    {%- if window['full'] -%}
        {%- do window.update(fundcdp.full_build_in_buckets(ref('int_events_valid'), fundcdp.attributed_events_sql, apply)) -%}
    {%- endif -%}
    {%- if apply -%}
        {%- do fundcdp.attributed_events_maintenance(window) -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}

{#- The earlier rows of int_events_attributed (before the restated days) that an incremental build
    changes in place (called by attributed_events_restatement(apply=true), the model's pre-hook): the events claimed by a new first login are
    deleted (the model writes them again), rows whose event is no longer valid (its device
    flagged since, retention or an erasure removed it) are deleted, and rows whose login now belongs to
    another person (a merge or split of the identity graph), or to none, take that person id. -#}
{% macro attributed_events_maintenance(window) %}
    {%- if window['full'] or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = "cast('" ~ window['since'] ~ "' as date)" -%}
    {%- do run_query(
        'delete from ' ~ this ~ ' as attributed using ' ~ window['claims'] ~ ' as claims'
        ~ ' where attributed.anonymous_id = claims.anonymous_id'
        ~ ' and attributed.event_date >= claims.claimed_from and attributed.event_date < ' ~ since
    ) -%}
    {#- An event stops being valid only when staging re-classifies its row (the row then carries the staging
        build's staged_as_of_date), rewrites its arrival day (every row of the day carries it) or drops that
        day altogether: only those rows are looked at, against the valid events staged since (not every
        event id against every valid one). -#}
    {%- set staged_since = 'staged_as_of_date ' ~ ('>=' if var('as_of_date') == window['last'] else '>')
        ~ " cast('" ~ window['last'] ~ "' as date)" -%}
    {%- set staged = ref('stg_tracking__events') -%}
    {%- set invalid_sql -%}
        delete from {{ this }}
        where event_date < {{ since }}
            and (
                event_id in (select event_id from {{ staged }} where {{ staged_since }} and exclusion_reason is not null)
                or arrival_date in (
                    select arrival_date from {{ staged }}
                    group by arrival_date
                    having {{ staged_since | replace('staged_as_of_date', 'min(staged_as_of_date)') }}
                )
                or arrival_date not in (select distinct arrival_date from {{ staged }})
            )
            and event_id not in (
                select event_id from {{ staged }} where exclusion_reason is null and {{ staged_since }}
            )
    {%- endset -%}
    {%- do run_query(invalid_sql) -%}
    {%- set remap -%}
        update {{ this }} as attributed
        set person_id = moved.person_id, built_as_of_date = cast('{{ var('as_of_date') }}' as date)
        from (
            select distinct keys.login_key, persons.person_id
            from (
                select distinct login_key, person_id
                from {{ this }}
                where login_key is not null
            ) as keys
            left join (
                select identifier_hash, person_id
                from {{ ref('int_identity_persons') }}
                where identifier_type = 'login_id'
            ) as persons on keys.login_key = persons.identifier_hash
            where keys.person_id is distinct from persons.person_id
        ) as moved
        where attributed.login_key = moved.login_key and attributed.event_date < {{ since }}
    {%- endset -%}
    {%- do run_query(remap) -%}
{% endmacro %}


{#- The select of int_events_attributed for `window` (attributed_events_restatement()); on a full build,
    only the events of the devices in bucket `bucket` of `buckets` (macro bucket_predicate on anonymous_id:
    a device's windows see all its events; the events without a device fall in one bucket). -#}
{% macro attributed_events_sql(window, bucket=0, buckets=1) %}

{%- set as_of = var('as_of_date') %}
{%- set window_days = var('fundcdp')['identity']['anonymous_attribution_days'] %}
{%- set known_by_as_of -%}
    arrival_date <= cast('{{ as_of }}' as date) and event_date <= cast('{{ as_of }}' as date)
{%- endset %}
{%- set in_window -%}
    {%- if not window['full'] %} and event_date >= cast('{{ window["since"] }}' as date){% endif -%}
{%- endset %}
{%- set own_login_key -%}
    case when not {{ is_junk_identifier('login_id') }} then {{ identity_hash("'login_id'", 'login_id') }} end
{%- endset %}

with

events as (
    select * from {{ ref('int_events_valid') }}
    where {{ known_by_as_of }}{{ in_window }} and {{ fundcdp.bucket_predicate('anonymous_id', bucket, buckets) }}
    {%- if not window['full'] %}
    union all
    -- the earlier anonymous events that a newly delivered first login of their device takes over
    select valid.*
    from {{ ref('int_events_valid') }} as valid
    inner join {{ window['claims'] }} as claims on valid.anonymous_id = claims.anonymous_id
    where {{ known_by_as_of }} and valid.event_date >= claims.claimed_from
        and valid.event_date < cast('{{ window["since"] }}' as date)
    {%- endif %}
),

login_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'login_id'
),

with_login as (
    select
        events.*,
        {{ own_login_key }} as own_login_key
    from events
),

-- The device windows run on four narrow columns and are kept for the events without a login of their
-- own (the only ones they attribute), then joined back by event_id (unique among valid events): the
-- same windows over every wide event row sorted and spilled tens of GB at SF10 (100M events).
device_events as (
    select
        event_id,
        anonymous_id,
        client_time_ms,
        {{ own_login_key }} as own_login_key
    -- read again rather than from `events` or `with_login`: DuckDB materializes a CTE read twice (EXPLAIN
    -- shows it), every wide row of it
    from {{ ref('int_events_valid') }}
    where anonymous_id is not null and {{ known_by_as_of }}{{ in_window }}
        and {{ fundcdp.bucket_predicate('anonymous_id', bucket, buckets) }}
    {%- if not window['full'] %}
    union all
    select valid.event_id, valid.anonymous_id, valid.client_time_ms, {{ own_login_key }}
    from {{ ref('int_events_valid') }} as valid
    inner join {{ window['claims'] }} as claims on valid.anonymous_id = claims.anonymous_id
    where {{ known_by_as_of }} and valid.event_date >= claims.claimed_from
        and valid.event_date < cast('{{ window["since"] }}' as date)
    {%- endif %}
),
{%- if not window['full'] %}

-- Per device with anonymous events in the window, its logins before the window: the latest (what an
-- anonymous event at the window's start continues) and the first.
window_devices as (
    select distinct anonymous_id from device_events where own_login_key is null
),

earlier_logins as (
    select valid.anonymous_id, valid.client_time_ms, valid.event_id, valid.login_id
    from {{ ref('int_events_valid') }} as valid
    inner join window_devices on valid.anonymous_id = window_devices.anonymous_id
    where {{ known_by_as_of }} and event_date < cast('{{ window["since"] }}' as date)
        and not {{ is_junk_identifier('valid.login_id') }}
),

earlier_login_times as (
    select anonymous_id, max(client_time_ms) as last_login_ms, min(client_time_ms) as first_login_ms
    from earlier_logins
    group by anonymous_id
),

earlier_last_ids as (
    select earlier_logins.anonymous_id, max(earlier_logins.event_id) as event_id
    from earlier_logins
    inner join earlier_login_times
        on earlier_logins.anonymous_id = earlier_login_times.anonymous_id
        and earlier_logins.client_time_ms = earlier_login_times.last_login_ms
    group by earlier_logins.anonymous_id
),

device_carry as (
    select
        earlier_login_times.anonymous_id,
        earlier_login_times.first_login_ms,
        {{ identity_hash("'login_id'", 'earlier_logins.login_id') }} as last_login_key
    from earlier_login_times
    inner join earlier_last_ids on earlier_login_times.anonymous_id = earlier_last_ids.anonymous_id
    inner join earlier_logins
        on earlier_last_ids.anonymous_id = earlier_logins.anonymous_id
        and earlier_last_ids.event_id = earlier_logins.event_id
),
{%- endif %}

device_windows as (
    select
        event_id,
        anonymous_id,
        client_time_ms,
        own_login_key,
        {{ last_non_null('own_login_key') }} over (
            partition by anonymous_id order by client_time_ms, event_id
            rows between unbounded preceding and current row
        ) as device_login_before,
        {{ first_non_null('own_login_key') }} over (
            partition by anonymous_id order by client_time_ms, event_id
            rows between current row and unbounded following
        ) as device_login_after,
        min(case when own_login_key is not null then client_time_ms end) over (
            partition by anonymous_id
        ) as device_first_login_ms
    from device_events
),

{%- if window['full'] %}

anonymous_windows as (
    select event_id, client_time_ms, device_login_before, device_login_after, device_first_login_ms
    from device_windows
    where own_login_key is null
),
{%- else %}

-- device_windows see the window only; the logins before it complete them
anonymous_windows as (
    select
        device_windows.event_id,
        device_windows.client_time_ms,
        coalesce(device_windows.device_login_before, device_carry.last_login_key) as device_login_before,
        device_windows.device_login_after,
        case
            when device_carry.first_login_ms is null then device_windows.device_first_login_ms
            when device_windows.device_first_login_ms is null then device_carry.first_login_ms
            when device_carry.first_login_ms < device_windows.device_first_login_ms
                then device_carry.first_login_ms
            else device_windows.device_first_login_ms
        end as device_first_login_ms
    from device_windows
    left join device_carry on device_windows.anonymous_id = device_carry.anonymous_id
    where device_windows.own_login_key is null
),
{%- endif %}

-- An event without a login of its own on a device: how it is attributed, and the device context that
-- decided it (only that: a login arriving later that changes nothing else leaves the row as it is, so an
-- incremental build and a full one agree).
anonymous_context as (
    select
        event_id,
        attribution,
        case when attribution = 'device_session' then device_login_before end as device_login_before,
        case when attribution = 'device_first_login' then device_login_after end as device_login_after,
        case when attribution = 'device_first_login' then device_first_login_ms end as device_first_login_ms
    from (
        select
            *,
            case
                when device_login_before is not null then 'device_session'
                when device_login_after is not null
                    and device_first_login_ms - client_time_ms <= cast({{ window_days }} as bigint) * 86400000
                    then 'device_first_login'
                else 'unattributed'
            end as attribution
        from anonymous_windows
    ) as decided
),

-- device_* columns: the device context of a device_session (device_login_before) or device_first_login
-- event (device_login_after, device_first_login_ms); null otherwise
attributed as (
    select
        with_login.*,
        anonymous_context.device_login_before,
        anonymous_context.device_login_after,
        anonymous_context.device_first_login_ms,
        case
            when with_login.own_login_key is not null then 'login'
            else coalesce(anonymous_context.attribution, 'unattributed')
        end as attribution
    from with_login
    left join anonymous_context on with_login.event_id = anonymous_context.event_id
),

keyed as (
    select
        *,
        case attribution
            when 'login' then own_login_key
            when 'device_session' then device_login_before
            when 'device_first_login' then device_login_after
        end as login_key
    from attributed
),

final as (
    select
        keyed.*,
        login_persons.person_id,
        cast('{{ as_of }}' as date) as built_as_of_date
    from keyed
    left join login_persons on keyed.login_key = login_persons.identifier_hash
)

select * from final
{% endmacro %}
