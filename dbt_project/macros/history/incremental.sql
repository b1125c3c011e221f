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
{% macro daily_aggregate_config(date_column, select_macro=none) %}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'append', 'partition_by': [date_column], 'file_format': 'parquet'}) }}
    {%- endif -%}
    {{ return({'incremental_strategy': 'append', 'post_hook': [
        'drop table if exists {{ this.schema }}.__claims_{{ this.identifier }}']
        + fundcdp.bucket_post_hooks(select_macro)
        + ['{{ fundcdp.record_rules_version() }}']}) }}
{% endmacro %}

{#- Which days of a daily aggregate a run as of var('as_of_date') rebuilds, and removal of their rows.
    Every row records built_as_of_date, the as-of date of the run that wrote it; after each run the table
    holds exactly the days up to that run's as-of date. Returns {'full': bool, 'since': 'YYYY-MM-DD'}, and
    on an incremental build 'last', the as-of date of the table's last build.
    - First build, --full-refresh, or a run for an earlier date than the last one (a backfill, a re-run
      after a corrected delivery, a test of reproducibility): every day up to the as-of date, from data
      arrived by then, so a past date gives exactly the rows its own run gave.
    - Otherwise: from the earliest of (the as-of date minus daily_aggregates.restate_days + 1) and (the
      earliest day touched by data arrived since the last run, minus extra_days). changed_dates_sql is a
      query of that earliest day with the placeholder __NEW_ARRIVALS__ for the predicate on arrival_date
      selecting what arrived after the last run (up to the as-of date), and __EARLIER_ARRIVALS__ for
      what had arrived by then.
    Only reads while the model renders. With apply=true (the model's pre-hook, when dbt runs the model)
    it also creates the scratch tables and deletes the rows of the restated days (DuckDB, in the model's
    transaction) or drops their partitions (Spark). A crash between the delete and the insert leaves an
    earlier last run date, so the next run restates at least as much. -#}
{% macro daily_restatement(date_column, changed_dates_sql, extra_days=0, scratch_tables={}, force_full=false, apply=false) %}
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
        {#- scratch_tables: relation -> query with the same placeholders, created by the pre-hook -#}
        {%- if apply -%}
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
        {%- set window = {'full': false, 'since': since.isoformat(), 'last': last_day} -%}
    {%- endif -%}
    {%- if apply -%}
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

{#- The config of the incremental event tables: `table` on Spark; on DuckDB incremental with
    `strategy`, new columns appended (an upgrade), and a post-hook dropping the scratch table
    <scratch_prefix><model> (its presence marks a build that stopped midway) and recording the rules
    version. With `select_macro` (the name of the model's select macro), a full build in buckets inserts
    its buckets after the first from a post-hook (macro fill_other_buckets). -#}
{% macro event_table_config(strategy, scratch_prefix, unique_key=none, select_macro=none) %}
    {%- if target.type == 'spark' -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {%- set config = {
        'materialized': 'incremental',
        'incremental_strategy': strategy,
        'on_schema_change': 'append_new_columns',
        'post_hook': ['drop table if exists {{ this.schema }}.' ~ scratch_prefix ~ '{{ this.identifier }}']
            + fundcdp.bucket_post_hooks(select_macro)
            + ['{{ fundcdp.record_rules_version() }}'],
    } -%}
    {%- if unique_key is not none -%}
        {%- do config.update({'unique_key': unique_key}) -%}
    {%- endif -%}
    {{ return(config) }}
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

{#- The as-of date (YYYY-MM-DD) of the last build of this incremental table (the max of its
    built_as_of_date), or none when this build is a full one: a first build or --full-refresh, a table
    without the `required` columns (built before they existed: an upgrade), other business rules, a last
    build that stopped midway (its scratch table <scratch_prefix><model> is still there), or a build for
    an earlier as-of date than the last one (or the same one, with rerun_is_full). In the last four cases
    the rows are deleted here with apply=true (the model's pre-hook; the model then inserts everything).
    `stamp`: the column recording each row's build (built_as_of_date, or as_of_date for the tag tables). -#}
{% macro incremental_last_build(scratch_prefix, required=['built_as_of_date'], apply=false, stamp='built_as_of_date', rerun_is_full=false) %}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = required | reject('in', columns) | list -%}
    {%- set last = none if missing else run_query('select max(' ~ stamp ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- set as_of_day = modules.datetime.date.fromisoformat(var('as_of_date')) -%}
    {%- if last is none or fundcdp.rules_changed() or fundcdp.unfinished_build(scratch_prefix)
        or as_of_day < modules.datetime.date.fromisoformat((last | string)[:10])
        or (rerun_is_full and as_of_day == modules.datetime.date.fromisoformat((last | string)[:10])) -%}
        {%- if apply -%}
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
