{#- tags_activity: incremental on DuckDB, rebuilt in full on Spark. After the insert, the rows kept from
    the last build take this build's as-of date (their values are the same on this day: see
    tags_activity_restatement). -#}
{% macro tags_activity_config() %}
    {%- set config = fundcdp.event_table_config('append', '__restate_') -%}
    {%- if target.type != 'spark' -%}
        {%- do config['post_hook'].insert(0, "update {{ this }} set as_of_date = cast('" ~ var('as_of_date')
            ~ "' as date) where as_of_date <> cast('" ~ var('as_of_date') ~ "' as date)") -%}
    {%- endif -%}
    {{ return(config) }}
{% endmacro %}

{#- The day windows of tags_activity's counts (active_days_7d ... active_days_90d, the 30 days before
    the last 30, the 90 days of events behind most_visited_section and preferred_event). -#}
{% macro tags_activity_windows() %}
    {{ return([7, 30, 60, 90]) }}
{% endmacro %}

{#- The as-of date (YYYY-MM-DD) of the last build of a person-level tag table (the max of its as_of_date:
    every row carries the as-of date of the build that last wrote or kept it), or none when this build is
    a full one: a first build or --full-refresh, other business rules, a last build that stopped between
    its deletes and its insert (its scratch table <scratch_prefix><model> is still there), a build for the
    same or an earlier as-of date than the last one (a re-run, a backfill), or identity_map_history
    without the last build's mapping or with a build between the two (the upstream tables were built on a
    day this table was not: what changed then is not known here). In the last cases the rows are deleted
    here with apply=true (the model's pre-hook; the model then inserts everything). -#}
{% macro person_tags_last_build(scratch_prefix, apply=false) %}
    {%- set as_of = var('as_of_date') -%}
    {%- set last = fundcdp.incremental_last_build(scratch_prefix, ['as_of_date'], apply=apply,
        stamp='as_of_date', rerun_is_full=true) -%}
    {%- if last is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set maps = run_query(
        "select count(distinct as_of_date) filter (where as_of_date = cast('" ~ last ~ "' as date)),"
        ~ " count(distinct as_of_date) filter (where as_of_date > cast('" ~ last ~ "' as date)"
        ~ " and as_of_date < cast('" ~ as_of ~ "' as date))"
        ~ " from " ~ ref('identity_map_history')
    ).rows[0] -%}
    {%- if maps[0] == 0 or maps[1] > 0 -%}
        {%- if apply -%}
            {%- do run_query('delete from ' ~ this) -%}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(last) }}
{% endmacro %}

{#- The persons whose identifiers changed person between the last build (`last`, YYYY-MM-DD: its mapping
    in identity_map_history) and now (int_identity_persons): both the old and the new person of every
    identifier that moved, appeared or went (merges, splits, new persons, erasures). -#}
{% macro identity_moves_sql(last) %}
    select coalesce(map_then.person_id, map_now.person_id) as old_person_id,
        coalesce(map_now.person_id, map_then.person_id) as new_person_id
    from (
        select identifier_type, identifier_hash, person_id from {{ ref('identity_map_history') }}
        where as_of_date = cast('{{ last }}' as date)
    ) as map_then
    full outer join (
        select identifier_type, identifier_hash, person_id from {{ ref('int_identity_persons') }}
    ) as map_now
        on map_then.identifier_type = map_now.identifier_type
        and map_then.identifier_hash = map_now.identifier_hash
    where map_then.person_id is distinct from map_now.person_id
{% endmacro %}

{#- What an incremental build of tags_activity recomputes: the persons whose row may differ from the
    last build's (`last`), a superset found without reading the whole history:
    - identity: both persons of every identifier that changed person (identity_moves_sql);
    - new data: the persons of the daily aggregates' rows written since the last build (login activity,
      login events, account trades), of the logins a device claim moved anonymous events from or to
      (tracking_claims_ctes over the arrivals since then: the previous first login's rows may be gone),
      of every fund account with a trade order version, a holding or an account row delivered since
      then, and the persons whose last activity was on or after the first day the tracking aggregates
      restated (less a day for the time zone: a person whose rows of those days were withdrawn);
    - the as-of day: the persons with activity on a day leaving a count window (tags_activity_windows)
      or entering at the as-of end, with events leaving the 90 days of events, with a purchase confirmed
      on the new days or on a day whose age crosses dormant_after_days, churned_after_days or growth_days,
      with an account opened on a day crossing growth_days (investor_since_date), or whose stored last
      activity crosses dormant_after_days or churned_after_days (lifecycle_stage); between two builds
      n days apart each window is crossed over n days;
    - persons gone from persons (deleted only).
    Those persons go to the scratch table __restate_<model> (dropped after the build); their rows are
    deleted here, only with apply=true (the model's pre-hook, in the model's transaction); rendering only
    reads. The other persons' rows stay, with this build's as-of date (post-hook). A full build:
    person_tags_last_build. Returns {'full': bool, 'scratch': relation}. -#}
{% macro tags_activity_restatement(apply=false) %}
    {%- set last = fundcdp.person_tags_last_build('__restate_', apply=apply) -%}
    {%- if last is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set scratch = this.schema ~ '.__restate_' ~ this.identifier -%}
    {%- if apply -%}
        {%- do run_query('create or replace table ' ~ scratch ~ ' as '
            ~ fundcdp.tags_activity_changed_persons_sql(last)) -%}
        {%- do run_query('delete from ' ~ this ~ ' where person_id in (select person_id from ' ~ scratch ~ ')') -%}
    {%- endif -%}
    {{ return({'full': false, 'scratch': scratch}) }}
{% endmacro %}

{% macro tags_activity_changed_persons_sql(last) %}
    {%- set as_of = var('as_of_date') -%}
    {%- set tags = var('fundcdp')['tags'] -%}
    {%- set date = modules.datetime.date -%}
    {%- set days = modules.datetime.timedelta -%}
    {%- set as_of_day = date.fromisoformat(as_of) -%}
    {%- set last_day = date.fromisoformat(last) -%}
    {#- (last - n, as_of - n]: the days whose age crosses n days between the two builds -#}
    {%- set crossing = {} -%}
    {%- for n in fundcdp.tags_activity_windows() + [tags['dormant_after_days'], tags['churned_after_days'], tags['growth_days'], 0] -%}
        {%- do crossing.update({n: "between cast('" ~ (last_day - days(days=n - 1)).isoformat() ~ "' as date) and cast('"
            ~ (as_of_day - days(days=n)).isoformat() ~ "' as date)"}) -%}
    {%- endfor -%}
    {%- set arrived = "arrival_date > cast('" ~ last ~ "' as date) and arrival_date <= cast('" ~ as_of ~ "' as date)" -%}
    {%- set earlier = "arrival_date <= cast('" ~ last ~ "' as date)" -%}
    {%- set claims_sql = fundcdp.tracking_claims_ctes() | replace('__NEW_ARRIVALS__', arrived)
        | replace('__EARLIER_ARRIVALS__', earlier) -%}
    {#- the first day the tracking aggregates restated (daily_restatement: the last restate_days days, or
        the earliest day of the events delivered since) -#}
    {%- set restated_from = "least(cast('" ~ (as_of_day - days(days=var('fundcdp')['daily_aggregates']['restate_days'] - 1)).isoformat()
        ~ "' as date), (select min(event_date) from " ~ ref('int_events_valid') ~ " where " ~ arrived ~ "))" -%}
    {%- set account_persons -%}
        select accounts.fund_account_id, map_now.person_id
        from __ACCOUNTS__ as accounts
        inner join {{ ref('int_identity_persons') }} as map_now
            on map_now.identifier_type = 'fund_account_id'
            and map_now.identifier_hash = {{ identity_hash("'fund_account_id'", 'accounts.fund_account_id') }}
    {%- endset -%}
    with

    moves as (
        {{ fundcdp.identity_moves_sql(last) }}
    ),

    claimed_logins as (
        select {{ identity_hash("'login_id'", 'login_id') }} as login_key
        from (
            {{ claims_sql }},
            logins as (
                select new_login_id as login_id from claims
                union all
                select previous_login_id from claims where previous_login_id is not null
            )
            select login_id from logins
        ) as claimed
    ),

    purchases as (
        select person_id, confirm_date
        from {{ ref('int_person_daily_trades') }}
        where trade_type in ({{ purchase_trade_types() }})
    ),

    changed_accounts as (
        select distinct fund_account_id
        from {{ ref('stg_trade__trade_orders') }}
        where order_id in (select order_id from {{ ref('stg_trade__trade_orders') }} where {{ arrived }})
        union
        select fund_account_id from {{ ref('stg_trade__holdings') }}
        where {{ arrived }} or (snapshot_date {{ crossing[0] }} and {{ earlier }})
        union
        select fund_account_id from {{ ref('stg_trade__fund_accounts') }}
        where {{ arrived }} or open_date {{ crossing[tags['growth_days']] }}
    ),

    changed as (
        select old_person_id as person_id from moves
        union all
        select new_person_id from moves
        union all
        select map_then.person_id
        from claimed_logins
        inner join {{ ref('identity_map_history') }} as map_then
            on map_then.as_of_date = cast('{{ last }}' as date)
            and map_then.identifier_type = 'login_id'
            and map_then.identifier_hash = claimed_logins.login_key
        union all
        select map_now.person_id
        from claimed_logins
        inner join {{ ref('int_identity_persons') }} as map_now
            on map_now.identifier_type = 'login_id' and map_now.identifier_hash = claimed_logins.login_key
        union all
        select person_id from {{ ref('int_person_daily_activity') }}
        where {{ fundcdp.built_since(last) }}
            {%- for n in fundcdp.tags_activity_windows() + [0] %}
            or activity_date {{ crossing[n] }}
            {%- endfor %}
        union all
        select person_id from {{ ref('int_person_daily_events') }}
        where {{ fundcdp.built_since(last) }} or activity_date {{ crossing[90] }} or activity_date {{ crossing[0] }}
        union all
        select person_id from {{ ref('int_person_daily_trades') }}
        where {{ fundcdp.built_since(last) }}
        union all
        select person_id from purchases
        where confirm_date {{ crossing[0] }}
            or confirm_date {{ crossing[tags['dormant_after_days']] }}
            or confirm_date {{ crossing[tags['churned_after_days']] }}
            or confirm_date {{ crossing[tags['growth_days']] }}
        union all
        select person_id from ({{ account_persons | replace('__ACCOUNTS__', 'changed_accounts') }}) as account_persons
        union all
        select person_id from {{ this }}
        where last_active_at >= cast({{ restated_from }} - interval 1 day as timestamp)
            or cast(last_active_at as date) {{ crossing[tags['dormant_after_days']] }}
            or cast(last_active_at as date) {{ crossing[tags['churned_after_days']] }}
            or person_id not in (select person_id from {{ ref('persons') }})
    )

    select distinct person_id from changed where person_id is not null
{% endmacro %}
