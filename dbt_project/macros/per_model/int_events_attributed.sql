{#- int_events_attributed: incremental by event day on DuckDB (appended after the restated days are
    deleted, as the daily aggregates); rebuilt in full on Spark (a person id cannot be updated in place
    in its Parquet tables). -#}
{% macro attributed_events_config() %}
    {{ return(fundcdp.event_table_config('append', '__claims_', select_macro='attributed_events_sql')) }}
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
        {%- do window.update(fundcdp.full_build_in_buckets(ref('int_events_valid'), apply)) -%}
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
