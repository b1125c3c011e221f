{#- int_churn_feature_snapshots: incremental on DuckDB (delete+insert of the changed persons and snapshot
    days), rebuilt in full on Spark. -#}

{#- The snapshot days of a build as of `day` (a date): the Sundays of the last models.churn.snapshot_weeks
    weeks up to it, and the day itself when it is not a Sunday (the scored snapshot). -#}
{% macro churn_snapshot_days(day) %}
    {%- set timedelta = modules.datetime.timedelta -%}
    {%- set last_sunday = day - timedelta(days=(day.weekday() + 1) % 7) -%}
    {%- set days = [day] if day != last_sunday else [] -%}
    {%- for week in range(var('fundcdp')['models']['churn']['snapshot_weeks']) -%}
        {%- do days.append(last_sunday - timedelta(days=7 * week)) -%}
    {%- endfor -%}
    {{ return(days) }}
{% endmacro %}

{#- The relations of the table's bookkeeping: the inputs each person's rows were built from (persistent,
    person_id and a fingerprint; erased with the person like every table with a person_id), the scratch
    table of the persons restated (its presence marks a build stopped midway) and the next inputs. -#}
{% macro churn_snapshots_relations() %}
    {{ return({
        'inputs': this.schema ~ '.' ~ this.identifier ~ '_inputs',
        'scratch': this.schema ~ '.__restate_' ~ this.identifier,
        'next_inputs': this.schema ~ '.__inputs_' ~ this.identifier,
    }) }}
{% endmacro %}

{% macro churn_snapshots_config() %}
    {%- if target.type == 'spark' -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {%- set relations = '{%- set relations = fundcdp.churn_snapshots_relations() -%}' -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'append_new_columns',
        'post_hook': [
            relations ~ 'create or replace table {{ relations.inputs }} as select * from {{ relations.next_inputs }}',
            relations ~ 'drop table if exists {{ relations.next_inputs }}',
            relations ~ 'drop table if exists {{ relations.scratch }}',
            '{{ fundcdp.record_rules_version() }}',
        ],
    }) }}
{% endmacro %}

{#- Each person's inputs: count and a fingerprint (sum of row hashes) of the person's activity days
    (int_login_activity_known through today's identity: login, day, day known, events) and confirmed
    purchases (int_purchases_known: order, day, day known). A person's features and labels read nothing
    else, so a person whose fingerprint did not change keeps their rows. -#}
{% macro churn_person_inputs_sql() %}
    select person_id, count(*) as inputs, sum(hash(kind, input_key, input_date, known_date, events)) as fingerprint
    from (
        select login_persons.person_id, 'activity' as kind, cast(known.login_key as varchar) as input_key,
            known.activity_date as input_date, known.known_date, known.events
        from {{ ref('int_login_activity_known') }} as known
        inner join {{ ref('int_identity_persons') }} as login_persons
            on known.login_key = login_persons.identifier_hash and login_persons.identifier_type = 'login_id'
        union all
        select person_id, 'purchase' as kind, cast(order_id as varchar) as input_key, confirm_date as input_date,
            known_date, cast(0 as bigint) as events
        from {{ ref('int_purchases_known') }}
    ) as inputs
    group by person_id
{% endmacro %}

{#- What an incremental build of int_churn_feature_snapshots rewrites. A snapshot (person, day) reads only
    the person's inputs (churn_person_inputs_sql), the day, the as-of date (which day is scored, whether
    the label's horizon has passed) and the first day of tracking data (has_full_history). So it rewrites
    - every row of the persons whose inputs changed since the last build (restated or late events and
      purchases, another identity: persons merged or split), listed in the scratch table __restate_<model>;
    - every row of the snapshot days that are new, the last build's as-of date (no longer scored), and
      the days whose label horizon passed since the last build (their labels are no longer null);
    and deletes the rows of snapshot days no longer in the window. Everything again when a full build is
    due (incremental_last_build: first build, --full-refresh, an upgrade, other business rules, a build
    stopped midway, an earlier as-of date), when the inputs of the last build are missing, and when the
    first day of tracking data moved so that a kept day's has_full_history changes.
    Rendering only reads; with apply=true (the model's pre-hook) it writes the scratch table and the next
    inputs (<model>_inputs after the build) and deletes the rows rewritten.
    Returns {'full': bool, 'days': [dates rebuilt for every person], 'scratch': relation}. -#}
{% macro churn_snapshots_restatement(apply=false) %}
    {%- set relations = fundcdp.churn_snapshots_relations() -%}
    {%- set as_of_day = modules.datetime.date.fromisoformat(var('as_of_date')) -%}
    {%- set current_days = fundcdp.churn_snapshot_days(as_of_day) -%}
    {%- set full = {'full': true, 'days': current_days} -%}
    {%- if apply and execute and this is not none and target.type != 'spark' -%}
        {%- do run_query('create or replace table ' ~ relations.next_inputs ~ ' as ' ~ fundcdp.churn_person_inputs_sql()) -%}
    {%- endif -%}
    {%- set last = fundcdp.incremental_last_build('__restate_', apply=apply) -%}
    {%- if last is none -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set churn = var('fundcdp')['models']['churn'] -%}
    {%- set inputs_kept = adapter.get_relation(database=this.database, schema=this.schema,
        identifier=this.identifier ~ '_inputs') is not none -%}
    {%- set history_changed = true -%}
    {%- if inputs_kept -%}
        {%- set history_sql -%}
            with data_start as (
                select min(known.activity_date) as first_activity_date
                from {{ ref('int_login_activity_known') }} as known
                inner join {{ ref('int_identity_persons') }} as login_persons
                    on known.login_key = login_persons.identifier_hash and login_persons.identifier_type = 'login_id'
            ),
            kept as (select distinct snapshot_date, has_full_history from {{ this }})
            select count(*)
            from kept cross join data_start
            where kept.has_full_history is distinct from
                ({{ days_between('data_start.first_activity_date', 'kept.snapshot_date') }} >= {{ churn['lookback_days'] }})
        {%- endset -%}
        {%- set history_changed = run_query(history_sql).columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- if history_changed -%}
        {%- if apply -%}
            {%- do run_query('delete from ' ~ this) -%}
        {%- endif -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set last_day = modules.datetime.date.fromisoformat(last) -%}
    {%- set last_days = fundcdp.churn_snapshot_days(last_day) -%}
    {%- set horizon = modules.datetime.timedelta(days=churn['horizon_days']) -%}
    {%- set days = [] -%}
    {%- for day in current_days -%}
        {%- if day not in last_days or day == last_day or (day + horizon <= as_of_day and day + horizon > last_day) -%}
            {%- do days.append(day) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if apply -%}
        {%- set scratch_sql -%}
            create or replace table {{ relations.scratch }} as
            select coalesce(next_inputs.person_id, kept.person_id) as person_id
            from {{ relations.next_inputs }} as next_inputs
            full outer join {{ relations.inputs }} as kept on next_inputs.person_id = kept.person_id
            where next_inputs.inputs is distinct from kept.inputs
                or next_inputs.fingerprint is distinct from kept.fingerprint
        {%- endset -%}
        {%- do run_query(scratch_sql) -%}
        {%- set kept_days = [] -%}
        {%- for day in current_days if day not in days -%}
            {%- do kept_days.append("cast('" ~ day ~ "' as date)") -%}
        {%- endfor -%}
        {%- do run_query(
            'delete from ' ~ this ~ ' as built where '
            ~ ('built.snapshot_date not in (' ~ kept_days | join(', ') ~ ') or ' if kept_days else 'true or ')
            ~ 'built.person_id in (select person_id from ' ~ relations.scratch ~ ')'
        ) -%}
    {%- endif -%}
    {{ return({'full': false, 'days': days, 'scratch': relations.scratch}) }}
{% endmacro %}
