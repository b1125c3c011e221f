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
    {{ return({'incremental_strategy': 'append'}) }}
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
{% macro daily_restatement(date_column, changed_dates_sql, extra_days=0) %}
    {%- set as_of = var('as_of_date') -%}
    {%- set full = {'full': true, 'since': none} -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set last = run_query('select max(built_as_of_date) from ' ~ this).columns[0].values()[0] -%}
    {%- set date = modules.datetime.date -%}
    {%- set as_of_day = date.fromisoformat(as_of) -%}
    {%- if last is none or as_of_day < date.fromisoformat((last | string)[:10]) -%}
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
    {%- set as_of = var('as_of_date') -%}
    {%- set window_ms = var('fundcdp')['identity']['anonymous_attribution_days'] * 86400000 -%}
    {%- set events = ref('int_events_valid') -%}
    {%- set changed_sql -%}
        with arrived as (
            select anonymous_id, login_id, event_date, client_time_ms
            from {{ events }}
            where __NEW_ARRIVALS__
        ),
        new_logins as (
            select anonymous_id, min(client_time_ms) as login_ms
            from arrived
            where anonymous_id is not null and not {{ is_junk_identifier('login_id') }}
            group by anonymous_id
        ),
        device_events as (
            select events.anonymous_id, events.login_id, events.event_date, events.client_time_ms,
                events.arrival_date, new_logins.login_ms
            from {{ events }} as events
            inner join new_logins on events.anonymous_id = new_logins.anonymous_id
            where events.arrival_date <= cast('{{ as_of }}' as date)
        ),
        earlier_logins as (
            select anonymous_id, min(client_time_ms) as first_login_ms
            from device_events
            where __EARLIER_ARRIVALS__ and not {{ is_junk_identifier('login_id') }}
            group by anonymous_id
        ),
        claimable as (
            select min(device_events.event_date) as event_date
            from device_events
            left join earlier_logins on device_events.anonymous_id = earlier_logins.anonymous_id
            where device_events.client_time_ms < device_events.login_ms
                and device_events.client_time_ms >= device_events.login_ms - {{ window_ms }}
                and (earlier_logins.first_login_ms is null
                    or device_events.login_ms < earlier_logins.first_login_ms)
        )
        select least((select min(event_date) from arrived), (select event_date from claimable))
    {%- endset -%}
    {{ return(fundcdp.daily_restatement(date_column, changed_sql)) }}
{% endmacro %}
