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
      query of that earliest day with the placeholder __SINCE_ARRIVAL__ for the last run's as-of date.
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
        {%- set changed_sql = changed_dates_sql | replace('__SINCE_ARRIVAL__', (last | string)[:10]) -%}
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
    the last run, minus the anonymous-attribution window (a login can claim a device's earlier events). -#}
{% macro tracking_restatement(date_column) %}
    {%- set as_of = var('as_of_date') -%}
    {{ return(fundcdp.daily_restatement(
        date_column,
        "select min(event_date) from " ~ ref('int_events_valid')
        ~ " where arrival_date >= cast('__SINCE_ARRIVAL__' as date) and arrival_date <= cast('" ~ as_of ~ "' as date)",
        extra_days=var('fundcdp')['identity']['anonymous_attribution_days'],
    )) }}
{% endmacro %}
