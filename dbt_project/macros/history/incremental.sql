{#- Incremental by date without merge (Delta / Iceberg jars cannot be fetched): delete+insert of the
    date's rows on DuckDB, insert-overwrite of the date's partition on Spark. The date column must be
    the last selected column (Spark partitions go last). -#}
{% macro incremental_by_date_config(date_column) %}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [date_column], 'file_format': 'parquet'}) }}
    {%- endif -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': date_column}) }}
{% endmacro %}

{#- Daily aggregates (one partition per day of activity) restated from a date on, without merge:
    append on DuckDB, append into date partitions on Spark. The rows of the restated days are removed
    first by daily_restatement(). The date column must be the last selected column. -#}
{% macro daily_aggregate_config(date_column) %}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'append', 'partition_by': [date_column], 'file_format': 'parquet'}) }}
    {%- endif -%}
    {{ return({'incremental_strategy': 'append', 'post_hook': [
        'drop table if exists {{ this.schema }}.__claims_{{ this.identifier }}',
        '{{ fundcdp.record_rules_version() }}']}) }}
{% endmacro %}

{#- Which days of a daily aggregate a run as of var('as_of_date') rebuilds, and removal of their rows.
    Every row records built_as_of_date, the as-of date of the run that wrote it; after each run the table
    holds exactly the days up to that run's as-of date. Returns {'full': bool, 'since': 'YYYY-MM-DD'}.
    - First build, --full-refresh, or a run for an earlier date than the last one (a backfill, a re-run
      after a corrected delivery, a test of reproducibility): every day up to the as-of date, from data
      arrived by then, so a past date gives exactly the rows its own run gave.
    - Otherwise: from the earliest of (the as-of date minus daily_aggregates.restate_days + 1) and (the
      earliest day touched by data arrived since the last run, minus extra_days). changed_dates_sql is a
      query of that earliest day with the placeholder __NEW_ARRIVALS__ for the predicate on arrival_date
      selecting what arrived after the last run (up to the as-of date), and __EARLIER_ARRIVALS__ for
      what had arrived by then.
    Rows of the restated days are deleted here (DuckDB) or their partitions dropped (Spark) only when dbt
    really runs the model: a crash between the delete and the insert leaves an earlier last run date, so
    the next run restates at least as much. -#}
{% macro daily_restatement(date_column, changed_dates_sql, extra_days=0, scratch_tables={}, force_full=false) %}
    {%- set as_of = var('as_of_date') -%}
    {%- set full = {'full': true, 'since': none} -%}
    {#- a unit test renders an incremental model without a relation (`this` is none): a full build -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(full) }}
    {%- endif -%}
    {#- a table built before it had built_as_of_date (an upgrade) is rebuilt in full -#}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set last = run_query('select max(built_as_of_date) from ' ~ this).columns[0].values()[0]
        if 'built_as_of_date' in columns else none -%}
    {%- set date = modules.datetime.date -%}
    {%- set as_of_day = date.fromisoformat(as_of) -%}
    {%- if force_full or last is none or as_of_day < date.fromisoformat((last | string)[:10]) or fundcdp.rules_changed() -%}
        {%- set window = full -%}
    {%- else -%}
        {%- set restate_days = var('fundcdp')['daily_aggregates']['restate_days'] -%}
        {%- set since = as_of_day - modules.datetime.timedelta(days=restate_days - 1) -%}
        {#- Data that arrived after the last run; on a re-run of the same day, that day's arrivals (a
            corrected re-delivery keeps its arrival day). -#}
        {%- set last_day = (last | string)[:10] -%}
        {%- set arrived = ("arrival_date > cast('" ~ last_day ~ "' as date)") if as_of_day > date.fromisoformat(last_day)
            else ("arrival_date >= cast('" ~ last_day ~ "' as date)") -%}
        {%- set before = ("arrival_date <= cast('" ~ last_day ~ "' as date)") if as_of_day > date.fromisoformat(last_day)
            else ("arrival_date < cast('" ~ last_day ~ "' as date)") -%}
        {%- set changed_sql = changed_dates_sql
            | replace('__NEW_ARRIVALS__', arrived ~ " and arrival_date <= cast('" ~ as_of ~ "' as date)")
            | replace('__EARLIER_ARRIVALS__', before) -%}
        {%- set changed = run_query(changed_sql).columns[0].values()[0] -%}
        {#- scratch_tables: relation -> query with the same placeholders, created when dbt runs the model -#}
        {%- if flags.WHICH in ('run', 'build', 'retry') -%}
            {%- for relation, query in scratch_tables.items() -%}
                {%- do run_query('create or replace table ' ~ relation ~ ' as ' ~ (query
                    | replace('__NEW_ARRIVALS__', arrived ~ " and arrival_date <= cast('" ~ as_of ~ "' as date)")
                    | replace('__EARLIER_ARRIVALS__', before))) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if changed is not none -%}
            {%- set earliest = date.fromisoformat((changed | string)[:10]) - modules.datetime.timedelta(days=extra_days) -%}
            {%- if earliest < since -%}{%- set since = earliest -%}{%- endif -%}
        {%- endif -%}
        {%- set window = {'full': false, 'since': since.isoformat()} -%}
    {%- endif -%}
    {%- if flags.WHICH in ('run', 'build', 'retry') -%}
        {%- do fundcdp.delete_days_from(this, date_column, window['since']) -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}

{#- Remove the rows of the days on and after `since` (all rows when since is none). -#}
{% macro delete_days_from(relation, date_column, since) %}
    {{ return(adapter.dispatch('delete_days_from', 'fundcdp')(relation, date_column, since)) }}
{% endmacro %}

{% macro default__delete_days_from(relation, date_column, since) %}
    {%- do run_query(
        'delete from ' ~ relation
        ~ ((" where " ~ date_column ~ " >= cast('" ~ since ~ "' as date)") if since else '')
    ) -%}
{% endmacro %}

{% macro spark__delete_days_from(relation, date_column, since) %}
    {%- set days = run_query(
        'select distinct cast(' ~ date_column ~ ' as string) from ' ~ relation
        ~ ((" where " ~ date_column ~ " >= cast('" ~ since ~ "' as date)") if since else '')
    ).columns[0].values() -%}
    {%- if days | length > 0 -%}
        {%- set specs = [] -%}
        {%- for day in days -%}
            {%- do specs.append('partition (' ~ date_column ~ " = '" ~ day ~ "')") -%}
        {%- endfor -%}
        {%- do run_query('alter table ' ~ relation ~ ' drop if exists ' ~ specs | join(', ')) -%}
    {%- endif -%}
{% endmacro %}

{#- daily_restatement() of the tracking aggregates: the earliest event day among events delivered since
    the last run, and the earliest anonymous event a newly delivered login takes over: when the login is
    now the device's first (earlier than every login on the device delivered before), the device's events
    within identity.anonymous_attribution_days before it. -#}
{% macro tracking_restatement(date_column) %}
    {{ return(adapter.dispatch('tracking_restatement', 'fundcdp')(date_column)) }}
{% endmacro %}

{#- Spark drops whole day partitions: every login's rows from the earliest claimed day on. -#}
{% macro default__tracking_restatement(date_column) %}
    {%- set changed_sql -%}
        {{ fundcdp.tracking_claims_ctes() }}
        select least(
            (select min(event_date) from arrived),
            (select min(claimed_from) from claims)
        )
    {%- endset -%}
    {{ return(fundcdp.daily_restatement(date_column, changed_sql)) }}
{% endmacro %}

{#- DuckDB deletes rows: all logins' rows from the earliest newly delivered event day on, and before that
    only the rows of the logins a claim changes, from the claimed day on: the device's new first login
    (which takes the anonymous events over) and its previous first login (which had them). Those logins
    go to the scratch table __claims_<model> (dropped after the build; a build that finds it still there
    is a full one). Returns daily_restatement()'s window plus 'claims', the scratch relation. -#}
{% macro duckdb__tracking_restatement(date_column) %}
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
        select {{ sha256_hex("'login_id:' || login_id") }} as login_key, min(claimed_from) as claimed_from
        from claimed_logins
        group by login_id
    {%- endset -%}
    {%- set window = fundcdp.daily_restatement(date_column, changed_sql, scratch_tables={claims: claims_sql},
        force_full=fundcdp.unfinished_build('__claims_')) -%}
    {%- if not window['full'] and flags.WHICH in ('run', 'build', 'retry') -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as aggregated using ' ~ claims ~ ' as claimed'
            ~ ' where aggregated.login_key = claimed.login_key and aggregated.' ~ date_column ~ ' >= claimed.claimed_from'
        ) -%}
    {%- endif -%}
    {%- do window.update({'claims': none if window['full'] else claims}) -%}
    {{ return(window) }}
{% endmacro %}

{#- The select of the attributed events a tracking aggregate reads for `window` (tracking_restatement()):
    `columns` of int_events_attributed and claimed_from (the day a claim restates the event's login from,
    null for other logins and on Spark), events with a login up to the as-of date; on an incremental
    build only those from the restated days on, `lookback_days` earlier (a window looking back over
    midnight), and for a claimed login from its claimed day on. -#}
{% macro restated_login_events(window, columns, lookback_days=0) %}
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

{#- stg_tracking__events: incremental on DuckDB, rebuilt in full on Spark (its Parquet tables cannot
    delete single rows). Rows are keyed on (source_file, source_line); see staged_events_restatement(). -#}
{% macro staged_events_config() %}
    {{ return(fundcdp.event_table_config('delete+insert', '__restate_', ['source_file', 'source_line'])) }}
{% endmacro %}

{#- The config of the incremental event tables: `table` on Spark; on DuckDB incremental with
    `strategy`, new columns appended (an upgrade), and a post-hook dropping the scratch table
    <scratch_prefix><model> (its presence marks a build that stopped midway) and recording the rules
    version. -#}
{% macro event_table_config(strategy, scratch_prefix, unique_key=none) %}
    {%- if target.type == 'spark' -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {%- set config = {
        'materialized': 'incremental',
        'incremental_strategy': strategy,
        'on_schema_change': 'append_new_columns',
        'post_hook': ['drop table if exists {{ this.schema }}.' ~ scratch_prefix ~ '{{ this.identifier }}',
            '{{ fundcdp.record_rules_version() }}'],
    } -%}
    {%- if unique_key is not none -%}
        {%- do config.update({'unique_key': unique_key}) -%}
    {%- endif -%}
    {{ return(config) }}
{% endmacro %}

{#- What an incremental build of stg_tracking__events rewrites. A staged arrival day is rewritten when it
    differs from raw/: its row count, or the load time of its files in the load manifest (a corrected or
    redacted re-delivery, an erasure's reload), or it is new, or retention purged it from raw/. Rows of
    other days change only through what looks across days: the duplicate ranking of an event id and the
    bot / test-device flags of a device. So the rows of other days re-classified are those sharing an
    event id with a rewritten day, and those of a device seen in a rewritten day that is flagged now or
    was before. Those ids and devices go to the scratch table __restate_<model> (dropped after the
    build), and the rewritten days' rows are deleted here, only when dbt really runs the model.
    Returns {'full': true} on a first build or --full-refresh, else {'full': false, 'days': [...],
    'scratch': relation}. A change of vars fundcdp.tracking rules applies to old events only with
    --full-refresh. -#}
{% macro staged_events_restatement() %}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set raw = fundcdp.source('tracking', 'events') -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if 'staged_as_of_date' not in columns or fundcdp.rules_changed() or fundcdp.unfinished_build('__restate_') -%}
        {#- built with other business rules, before staged_as_of_date existed (an upgrade), or the last
            incremental build stopped between its deletes and its insert: everything again -#}
        {%- if flags.WHICH in ('run', 'build', 'retry') -%}
            {%- do run_query('delete from ' ~ this) -%}
        {%- endif -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set days_sql -%}
        with raw_days as (
            select cast(arrival_date as date) as arrival_date, count(*) as row_count
            from {{ raw }}
            group by 1
        ),
        loads as (
            select cast(arrival_date as date) as arrival_date, max(cast(loaded_at as timestamp)) as loaded_at
            from {{ fundcdp.source('ingest', 'load_manifest') }}
            where source = 'tracking' and table_name = 'events' and rows_loaded > 0
                and status in ('loaded', 'corrected', 'redacted', 'unchanged')
            group by 1
        ),
        staged as (
            select arrival_date, count(*) as row_count, max(source_loaded_at) as loaded_at
            from {{ this }}
            group by 1
        )
        select distinct cast(coalesce(raw_days.arrival_date, staged.arrival_date) as varchar) as arrival_date
        from raw_days
        left join loads on raw_days.arrival_date = loads.arrival_date
        full outer join staged on raw_days.arrival_date = staged.arrival_date
        where raw_days.row_count is distinct from staged.row_count
            or loads.loaded_at is distinct from staged.loaded_at
        order by 1
    {%- endset -%}
    {%- set days = run_query(days_sql).columns[0].values() | list -%}
    {%- set day_list = fundcdp.date_list(days) -%}
    {%- if flags.WHICH in ('run', 'build', 'retry') -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with restated as (
                select anonymous_id, event_id from {{ raw }} where cast(arrival_date as date) in ({{ day_list }})
                union all
                select anonymous_id, event_id from {{ this }} where arrival_date in ({{ day_list }})
            ),
            devices as (
                select distinct anonymous_id from restated where anonymous_id is not null
            ),
            device_events as (
                select raw_events.anonymous_id, raw_events.receive_time_ms, raw_events.login_id
                from {{ raw }} as raw_events
                inner join devices on raw_events.anonymous_id = devices.anonymous_id
            ),
            flagged as (
                {{ fundcdp.tracking_flagged_devices('device_events') }}
                union
                select staged.anonymous_id
                from {{ this }} as staged
                inner join devices on staged.anonymous_id = devices.anonymous_id
                where staged.exclusion_reason in ('bot', 'test_device')
            )
            select 'device' as kind, anonymous_id as value from flagged
            union all
            select distinct 'event', event_id from restated where event_id is not null
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query('delete from ' ~ this ~ ' where arrival_date in (' ~ day_list ~ ')') -%}
    {%- endif -%}
    {{ return({'full': false, 'days': days, 'scratch': scratch}) }}
{% endmacro %}

{#- SQL list of date literals; a null date when the list is empty (matches nothing with `in`). -#}
{% macro date_list(days) %}
    {%- if days | length == 0 -%}
        {{ return('cast(null as date)') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for day in days -%}
        {%- do literals.append("cast('" ~ day ~ "' as date)") -%}
    {%- endfor -%}
    {{ return(literals | join(', ')) }}
{% endmacro %}

{#- The devices of `events` (a relation with anonymous_id, receive_time_ms, login_id) flagged as a bot
    (more than tracking.bot_max_events_per_minute events in one collector minute) or as a test device
    (at least tracking.test_device_min_logins distinct real logins). Each macro is one select. -#}
{% macro tracking_flagged_devices(events) %}
    select anonymous_id from ({{ fundcdp.tracking_bot_devices(events) }}) as bot_devices
    union
    select anonymous_id from ({{ fundcdp.tracking_test_devices(events) }}) as test_devices
{% endmacro %}

{% macro tracking_bot_devices(events) %}
    {%- set rules = var('fundcdp')['tracking'] -%}
    select distinct anonymous_id
    from (
        select anonymous_id, count(*) as events_in_minute
        from {{ events }}
        where anonymous_id is not null
        group by anonymous_id, floor(receive_time_ms / 60000)
    ) as device_minutes
    where events_in_minute > {{ rules['bot_max_events_per_minute'] }}
{% endmacro %}

{% macro tracking_test_devices(events) %}
    {%- set rules = var('fundcdp')['tracking'] -%}
    select anonymous_id
    from {{ events }}
    where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
    group by anonymous_id
    having count(distinct login_id) >= {{ rules['test_device_min_logins'] }}
{% endmacro %}

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
    after the build). Returns daily_restatement()'s window plus 'claims', the scratch relation. -#}
{% macro attributed_events_restatement() %}
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
        force_full=force_full) -%}
    {%- do window.update({'claims': claims}) -%}
    {{ return(window) }}
{% endmacro %}

{#- The earlier rows of int_events_attributed (before the restated days) that an incremental build
    changes in place, when dbt really runs the model: the events claimed by a new first login are
    deleted (the model writes them again), rows whose event is no longer valid (its device
    flagged since, retention or an erasure removed it) are deleted, and rows whose login now belongs to
    another person (a merge or split of the identity graph), or to none, take that person id. -#}
{% macro attributed_events_maintenance(window) %}
    {%- if window['full'] or not execute or flags.WHICH not in ('run', 'build', 'retry') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = "cast('" ~ window['since'] ~ "' as date)" -%}
    {%- do run_query(
        'delete from ' ~ this ~ ' as attributed using ' ~ window['claims'] ~ ' as claims'
        ~ ' where attributed.anonymous_id = claims.anonymous_id'
        ~ ' and attributed.event_date >= claims.claimed_from and attributed.event_date < ' ~ since
    ) -%}
    {%- do run_query(
        'delete from ' ~ this ~ ' where event_date < ' ~ since
        ~ ' and event_id not in (select event_id from ' ~ ref('int_events_valid') ~ ')'
    ) -%}
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

{#- int_session_events: incremental on DuckDB, rebuilt in full on Spark. -#}
{% macro session_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of int_session_events renumbers: per person, every event from the person's
    earliest changed one on. Changed: an attributed event written or moved since this table's last build
    (int_events_attributed.built_as_of_date on or after its last as-of date), and an event numbered here that is gone
    from int_events_attributed or belongs to another person now (then both persons are renumbered).
    The earlier events keep their numbers; the renumbering continues from the person's last kept event.
    Those persons and times go to the scratch table __restate_<model> (dropped after the build); their
    rows from those times on are deleted here, only when dbt really runs the model. A first build,
    --full-refresh, a table built before built_as_of_date existed, other business rules, a last build that
    stopped between its deletes and its insert (its scratch table is still there), and a build for an
    earlier as-of date than the last one renumber everything. Returns {'full': bool, 'scratch': relation}. -#}
{% macro session_events_restatement() %}
    {%- set last = fundcdp.incremental_last_build('__restate_') -%}
    {%- if last is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set running = flags.WHICH in ('run', 'build', 'retry') -%}
    {%- set as_of = var('as_of_date') -%}
    {%- set attributed = ref('int_events_attributed') -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if running -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with changed as (
                select person_id, client_time_ms
                from {{ attributed }}
                -- written since this table's last build
                where {{ fundcdp.built_since(last) }} and person_id is not null
                    and event_date <= cast('{{ as_of }}' as date)
                union all
                select numbered.person_id, numbered.client_time_ms
                from {{ this }} as numbered
                left join {{ attributed }} as attributed on numbered.event_id = attributed.event_id
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

{#- The business rules a table was built with: an incremental table built with other vars fundcdp rules
    (a changed bot threshold, session gap, junk pattern ...) is rebuilt in full, so a rule change applies
    to old events too. DuckDB records the version (an md5 of the rules) as the table's comment after each
    build; on Spark the incremental daily aggregates do not check it (rebuild them with --full-refresh
    after a rule change). -#}
{% macro rules_version() %}
    {{ return('fundcdp rules ' ~ local_md5(tojson(var('fundcdp'), sort_keys=True))) }}
{% endmacro %}

{% macro record_rules_version() %}
    {{ return(adapter.dispatch('record_rules_version', 'fundcdp')()) }}
{% endmacro %}

{% macro default__record_rules_version() %}
    {{ return('select 1') }}
{% endmacro %}

{% macro duckdb__record_rules_version() %}
    {{ return("comment on table " ~ this ~ " is '" ~ fundcdp.rules_version() ~ "'") }}
{% endmacro %}

{% macro rules_changed() %}
    {{ return(adapter.dispatch('rules_changed', 'fundcdp')()) }}
{% endmacro %}

{% macro default__rules_changed() %}
    {{ return(false) }}
{% endmacro %}

{% macro duckdb__rules_changed() %}
    {%- set recorded = run_query(
        "select comment from duckdb_tables() where database_name = '" ~ this.database ~ "' and schema_name = '"
        ~ this.schema ~ "' and table_name = '" ~ this.identifier ~ "'"
    ).columns[0].values() -%}
    {{ return(recorded | length == 0 or recorded[0] != fundcdp.rules_version()) }}
{% endmacro %}

{#- True when this model's scratch table (<prefix><model>, dropped by the model's post-hook) is still
    there: its last incremental build stopped between the deletes made while rendering it and its insert,
    so what it deleted may be missing; the caller rebuilds in full. -#}
{% macro unfinished_build(prefix) %}
    {%- if not execute or this is none -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=prefix ~ this.identifier) is not none) }}
{% endmacro %}

{#- The column list of `relation` without `excluded` (lower-case names), in table order; `*` while
    parsing or before the relation exists (nothing is built from that rendering). -#}
{% macro columns_except(relation, excluded) %}
    {%- set columns = adapter.get_columns_in_relation(relation)
        if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is not none
        else [] -%}
    {%- set kept = [] -%}
    {%- for column in columns if column.name | lower not in excluded -%}
        {%- do kept.append(adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{ return(kept | join(', ') if kept else '*') }}
{% endmacro %}

{#- sessions: incremental on DuckDB (delete+insert of changed sessions), rebuilt in full on Spark. -#}
{% macro sessions_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of the sessions mart rewrites: the sessions (person_id, session_number) with
    an event numbered in int_session_events since this table's last build (its built_as_of_date; on a
    re-run of that day, that day's too), and those whose event count or last event differ from
    int_session_events or that exist on one side only (events taken away from a person without a new
    numbering of the person's later ones: a move to another person, an event no longer valid). They go
    to the scratch table __restate_<model> (dropped after the build); their rows are deleted here, only
    when dbt really runs the model. Everything again on a first build, --full-refresh, a table built
    before built_as_of_date existed, other business rules, a last build that stopped midway, and a build
    for an earlier as-of date than the last one. Returns {'full': bool, 'scratch': relation}. -#}
{% macro sessions_restatement() %}
    {%- set last = fundcdp.incremental_last_build('__restate_') -%}
    {%- if last is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set running = flags.WHICH in ('run', 'build', 'retry') -%}
    {%- set numbered = ref('int_session_events') -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if running -%}
        {%- set scratch_sql -%}
            create or replace table {{ scratch }} as
            with renumbered as (
                select distinct person_id, session_number
                from {{ numbered }}
                where {{ fundcdp.built_since(last) }}
            ),
            counted as (
                select person_id, session_number, count(*) as events, max(event_at) as ended_at
                from {{ numbered }}
                group by person_id, session_number
            ),
            differing as (
                select coalesce(built.person_id, counted.person_id) as person_id,
                    coalesce(built.session_number, counted.session_number) as session_number
                from {{ this }} as built
                full outer join counted
                    on built.person_id = counted.person_id and built.session_number = counted.session_number
                where built.person_id is null or counted.person_id is null
                    or built.events != counted.events or built.ended_at != counted.ended_at
            )
            select person_id, session_number from renumbered
            union
            select person_id, session_number from differing
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as built using ' ~ scratch ~ ' as restated'
            ~ ' where built.person_id = restated.person_id and built.session_number = restated.session_number'
        ) -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch}) }}
{% endmacro %}

{#- int_segment_events: incremental on DuckDB, rebuilt in full on Spark. -#}
{% macro segment_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__restate_')) }}
{% endmacro %}

{#- What an incremental build of int_segment_events rewrites: the attributed events written or moved since
    its last build (int_events_attributed.built_as_of_date after it; on a re-run of that day, that day's
    too) are deleted here and inserted again by the model. Events the attribution dropped since (no
    longer valid) are found per event day: a day whose row count differs from the attribution's
    unchanged rows loses its rows the attribution no longer has. If a day still differs after that, the
    build is a full one. A scratch table __restate_<model> marks the build until its post-hook drops it.
    Returns {'full': bool, 'stamped': predicate on int_events_attributed selecting the rows to insert}. -#}
{% macro segment_events_restatement() %}
    {%- set full = {'full': true} -%}
    {%- set last = fundcdp.incremental_last_build('__restate_', ['built_as_of_date', 'event_id']) -%}
    {%- if last is none -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set running = flags.WHICH in ('run', 'build', 'retry') -%}
    {%- set attributed = ref('int_events_attributed') -%}
    {%- set stamped = fundcdp.built_since(last) -%}
    {%- set differing_days -%}
        with kept as (
            select event_date, count(*) as events
            from {{ attributed }}
            where person_id is not null and not coalesce({{ stamped }}, false)
            group by event_date
        ),
        built as (
            select event_date, count(*) as events from {{ this }} group by event_date
        )
        select cast(coalesce(kept.event_date, built.event_date) as varchar)
        from kept
        full outer join built on kept.event_date = built.event_date
        where kept.events is distinct from built.events
    {%- endset -%}
    {%- if running -%}
        {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
        {%- do run_query('create or replace table ' ~ scratch ~ ' as select 1 as building') -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' where event_id in (select event_id from ' ~ attributed ~ ' where ' ~ stamped ~ ')'
        ) -%}
        {%- set days = run_query(differing_days).columns[0].values() | list -%}
        {%- if days | length > 0 -%}
            {%- set day_list = fundcdp.date_list(days) -%}
            {%- do run_query(
                'delete from ' ~ this ~ ' where event_date in (' ~ day_list ~ ') and event_id not in ('
                ~ 'select event_id from ' ~ attributed ~ ' where event_date in (' ~ day_list ~ ')'
                ~ ' and person_id is not null and event_id is not null and not coalesce(' ~ stamped ~ ', false))'
            ) -%}
            {%- if run_query(differing_days).columns[0].values() | length > 0 -%}
                {%- do run_query('delete from ' ~ this) -%}
                {{ return(full) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return({'full': false, 'stamped': stamped}) }}
{% endmacro %}

{#- The as-of date (YYYY-MM-DD) of the last build of this incremental table (the max of its
    built_as_of_date), or none when this build is a full one: a first build or --full-refresh, a table
    without the `required` columns (built before they existed: an upgrade), other business rules, a last
    build that stopped midway (its scratch table <scratch_prefix><model> is still there), or a build for
    an earlier as-of date than the last one. In the last four cases the rows are deleted here, when dbt
    really runs the model (the model then inserts everything). -#}
{% macro incremental_last_build(scratch_prefix, required=['built_as_of_date']) %}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = required | reject('in', columns) | list -%}
    {%- set last = none if missing else run_query('select max(built_as_of_date) from ' ~ this).columns[0].values()[0] -%}
    {%- if last is none or fundcdp.rules_changed() or fundcdp.unfinished_build(scratch_prefix)
        or modules.datetime.date.fromisoformat(var('as_of_date')) < modules.datetime.date.fromisoformat((last | string)[:10]) -%}
        {%- if flags.WHICH in ('run', 'build', 'retry') -%}
            {%- do run_query('delete from ' ~ this) -%}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return((last | string)[:10]) }}
{% endmacro %}

{#- The rows of an upstream table written since `last` (a date, YYYY-MM-DD) by its built_as_of_date: after
    it on a later day; on a re-run of that day, that day's too (right after a full build every row
    carries the last build's date, so `>=` on a later day would take every row). -#}
{% macro built_since(last) %}
    {{ return("built_as_of_date " ~ ('>=' if var('as_of_date') == last else '>') ~ " cast('" ~ last ~ "' as date)") }}
{% endmacro %}
