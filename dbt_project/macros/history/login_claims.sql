{#- daily_restatement() of the tracking aggregates: the earliest event day among events delivered since
    the last run, and the earliest anonymous event a newly delivered login takes over: when the login is
    now the device's first (earlier than every login on the device delivered before), the device's events
    within identity.anonymous_attribution_days before it. Only reads while the model renders; with
    apply=true (the model's pre-hook) it also deletes the restated rows (see daily_restatement()). -#}
{% macro tracking_restatement(date_column, apply=false) %}
    {{ return(adapter.dispatch('tracking_restatement', 'fundcdp')(date_column, apply)) }}
{% endmacro %}

{#- Spark drops whole day partitions: every login's rows from the earliest claimed day on. -#}
{% macro default__tracking_restatement(date_column, apply=false) %}
    {%- set changed_sql -%}
        {{ fundcdp.tracking_claims_ctes() }}
        select least(
            (select min(event_date) from arrived),
            (select min(claimed_from) from claims)
        )
    {%- endset -%}
    {{ return(fundcdp.daily_restatement(date_column, changed_sql, apply=apply)) }}
{% endmacro %}

{#- DuckDB deletes rows: all logins' rows from the earliest newly delivered event day on, and before that
    only the rows of the logins a claim changes, from the claimed day on: the device's new first login
    (which takes the anonymous events over) and its previous first login (which had them). Those logins
    go to the scratch table __claims_<model> (dropped after the build; a build that finds it still there
    is a full one). Returns daily_restatement()'s window plus 'claims', the scratch relation. -#}
{% macro duckdb__tracking_restatement(date_column, apply=false) %}
    {%- set claims = this.schema ~ '.__claims_' ~ this.identifier if this is not none else none -%}
    {%- set changed_sql -%}
        {{ fundcdp.tracking_claims_ctes() }}
        select min(event_date) from arrived
    {%- endset -%}
    {%- set claims_sql -%}
        {{ fundcdp.tracking_claims_ctes() }},
        claimed_logins as (
            select new_login_id as login_id, claimed_from from claims
            union all
            select previous_login_id, claimed_from from claims where previous_login_id is not null
        )
        select {{ identity_hash("'login_id'", 'login_id') }} as login_key, min(claimed_from) as claimed_from
        from claimed_logins
        group by login_id
    {%- endset -%}
    {%- set window = fundcdp.daily_restatement(date_column, changed_sql, scratch_tables={claims: claims_sql},
        force_full=fundcdp.unfinished_build('__claims_'), apply=apply) -%}
    {%- if not window['full'] and apply -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as aggregated using ' ~ claims ~ ' as claimed'
            ~ ' where aggregated.login_key = claimed.login_key and aggregated.' ~ date_column ~ ' >= claimed.claimed_from'
        ) -%}
    {%- endif -%}
    {%- do window.update({'claims': none if window['full'] else claims}) -%}
    {%- if window['full'] -%}
        {#- a full build per bucket of logins (macro fill_other_buckets) -#}
        {%- do window.update(fundcdp.full_build_in_buckets(ref('int_events_attributed'), apply)) -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}

{#- The select of the attributed events a tracking aggregate reads for `window` (tracking_restatement()):
    `columns` of int_events_attributed and claimed_from (the day a claim restates the event's login from,
    null for other logins and on Spark), events with a login up to the as-of date; on an incremental
    build only those from the restated days on, `lookback_days` earlier (a window looking back over
    midnight), and for a claimed login from its claimed day on; on a full build in buckets, the logins of
    bucket `bucket` of `buckets` only (macro bucket_predicate on login_key). -#}
{% macro restated_login_events(window, columns, lookback_days=0, bucket=0, buckets=1) %}
    {%- set claims = window.get('claims') -%}
    {%- set since = "cast('" ~ window['since'] ~ "' as date)" -%}
    select
        {%- for column in columns %}
        attributed.{{ column }},
        {%- endfor %}
        {{ "claimed.claimed_from" if claims else "cast(null as date)" }} as claimed_from
    from {{ ref('int_events_attributed') }} as attributed
    {%- if claims %}
    -- the logins whose earlier days a claim changes (DuckDB; Spark restates those days for every login)
    left join {{ claims }} as claimed on attributed.login_key = claimed.login_key
    {%- endif %}
    where attributed.login_key is not null
        and attributed.event_date <= cast('{{ var('as_of_date') }}' as date)
        and {{ fundcdp.bucket_predicate('attributed.login_key', bucket, buckets) }}
        {%- if not window['full'] %}
        and (attributed.event_date >= {{ fundcdp.days_before(since, lookback_days) if lookback_days else since }}
            {%- if claims %}
            or attributed.event_date >= {{ fundcdp.days_before('claimed.claimed_from', lookback_days) if lookback_days else 'claimed.claimed_from' }}
            {%- endif %})
        {%- endif %}
{% endmacro %}

{#- The CTEs `arrived` (valid events delivered since the last run) and `claims` (per device whose first
    login was delivered since the last run: the first day of its anonymous events within
    identity.anonymous_attribution_days before that login, which it now takes over, that login id
    new_login_id and the device's first login id before it, previous_login_id), with the placeholders of
    daily_restatement(). -#}
{% macro tracking_claims_ctes() %}
    {%- set as_of = var('as_of_date') -%}
    {%- set window_ms = var('fundcdp')['identity']['anonymous_attribution_days'] * 86400000 -%}
    {%- set events = ref('int_events_valid') -%}
        with arrived as (
            select anonymous_id, login_id, event_date, client_time_ms
            from {{ events }}
            where __NEW_ARRIVALS__
        ),
        new_logins as (
            select anonymous_id, min(client_time_ms) as login_ms, min_by(login_id, client_time_ms) as login_id
            from arrived
            where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
            group by anonymous_id
        ),
        device_events as (
            select events.anonymous_id, events.login_id, events.event_date, events.client_time_ms,
                events.arrival_date, new_logins.login_ms, new_logins.login_id as new_login_id
            from {{ events }} as events
            inner join new_logins on events.anonymous_id = new_logins.anonymous_id
            where events.arrival_date <= cast('{{ as_of }}' as date)
        ),
        earlier_logins as (
            select anonymous_id, min(client_time_ms) as first_login_ms,
                min_by(login_id, client_time_ms) as first_login_id
            from device_events
            where __EARLIER_ARRIVALS__ and not {{ is_junk_identifier('login_id') }}
            group by anonymous_id
        ),
        claims as (
            select device_events.anonymous_id, min(device_events.event_date) as claimed_from,
                min(device_events.new_login_id) as new_login_id, min(earlier_logins.first_login_id) as previous_login_id
            from device_events
            left join earlier_logins on device_events.anonymous_id = earlier_logins.anonymous_id
            where device_events.client_time_ms < device_events.login_ms
                and device_events.client_time_ms >= device_events.login_ms - {{ window_ms }}
                and (earlier_logins.first_login_ms is null
                    or device_events.login_ms < earlier_logins.first_login_ms)
            group by device_events.anonymous_id
        )
{% endmacro %}
