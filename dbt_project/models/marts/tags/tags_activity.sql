{{ config(pre_hook=["{% do fundcdp.keep_previous_tags() %}", "{% do fundcdp.tags_activity_restatement(apply=true) %}"],
    **fundcdp.tags_activity_config()) }}
-- Dimension 4, activity and lifecycle stage: one row per person, as of var('as_of_date').
-- Incremental on DuckDB (macro tags_activity_restatement): a daily build recomputes only the persons
-- whose row may differ from the last build's (new data, identity changes, a day crossing a window or a
-- lifecycle threshold); the other rows are kept and take the new as-of date.
-- depends_on: {{ ref('identity_map_history') }}, {{ ref('int_identity_persons') }}, {{ ref('int_events_valid') }}
-- depends_on: {{ ref('stg_trade__trade_orders') }}, {{ ref('stg_trade__holdings') }}
{%- set as_of = var('as_of_date') %}
{%- set tags = var('fundcdp')['tags'] %}
{%- set as_of_date = "cast('" ~ as_of ~ "' as date)" %}
{%- set restate = fundcdp.tags_activity_restatement() %}
{#- an incremental build reads the restated persons' rows only -#}
{%- set restated = '' if restate['full'] else ' and person_id in (select person_id from ' ~ restate['scratch'] ~ ')' %}

with

persons as (
    select person_id from {{ ref('persons') }}
    where true{{ restated }}
),

activity_days as (
    select *
    from {{ ref('int_person_daily_activity') }}
    where activity_date <= {{ as_of_date }}{{ restated }}
),

event_counts as (
    select *
    from {{ ref('int_person_daily_events') }}
    where activity_date > {{ days_before(as_of_date, 90) }} and activity_date <= {{ as_of_date }}{{ restated }}
),

purchases as (
    select person_id, confirm_date
    from {{ ref('int_person_daily_trades') }}
    where trade_type in ({{ purchase_trade_types() }})
        and confirm_date <= {{ as_of_date }}{{ restated }}
),

trades as (
    select person_id, max(confirm_date) as last_trade_date, min(confirm_date) as first_purchase_date
    from purchases
    group by person_id
),

-- Trade history before the delivered window is not in the data: a holding in a snapshot proves an
-- earlier purchase, made no earlier than the account opening, which stands in for it.
held_accounts as (
    select distinct person_id, fund_account_id
    from {{ ref('int_holdings_attributed') }}
    where shares > 0{{ restated }}
),

holding_since as (
    select held_accounts.person_id, min(accounts.open_date) as holding_since_date
    from held_accounts
    inner join {{ ref('stg_trade__fund_accounts') }} as accounts
        on held_accounts.fund_account_id = accounts.fund_account_id
        and accounts.arrival_date <= {{ as_of_date }}
    group by held_accounts.person_id
),

sections as (
    select person_id, app_section
    from (
        select
            person_id,
            app_section,
            row_number() over (partition by person_id order by sum(events) desc, app_section) as section_rank
        from event_counts
        where app_section is not null
        group by person_id, app_section
    ) as ranked
    where section_rank = 1
),

favourite_events as (
    select person_id, event_name
    from (
        select
            person_id,
            event_name,
            row_number() over (partition by person_id order by sum(events) desc, event_name) as event_rank
        from event_counts
        where event_name not in ('app_start', 'page_view', 'click', 'login')
        group by person_id, event_name
    ) as ranked
    where event_rank = 1
),

activity as (
    select
        person_id,
        max(last_event_at) as last_active_at,
        count(distinct case when activity_date > {{ days_before(as_of_date, 7) }} then activity_date end)
            as active_days_7d,
        count(distinct case when activity_date > {{ days_before(as_of_date, 30) }} then activity_date end)
            as active_days_30d,
        count(distinct case
            when activity_date > {{ days_before(as_of_date, 60) }}
                and activity_date <= {{ days_before(as_of_date, 30) }}
                then activity_date
        end) as active_days_prior_30d,
        count(distinct case when activity_date > {{ days_before(as_of_date, 90) }} then activity_date end)
            as active_days_90d,
        sum(case when activity_date > {{ days_before(as_of_date, 30) }} then sessions else 0 end) as sessions_30d
    from activity_days
    group by person_id
),

joined as (
    select
        persons.person_id,
        activity.last_active_at,
        coalesce(activity.active_days_7d, 0) as active_days_7d,
        coalesce(activity.active_days_30d, 0) as active_days_30d,
        coalesce(activity.active_days_prior_30d, 0) as active_days_prior_30d,
        coalesce(activity.active_days_90d, 0) as active_days_90d,
        coalesce(activity.sessions_30d, 0) as sessions_30d,
        sections.app_section as most_visited_section,
        favourite_events.event_name as preferred_event,
        case
            when holding_since.holding_since_date is null then trades.first_purchase_date
            when trades.first_purchase_date is null then holding_since.holding_since_date
            when holding_since.holding_since_date < trades.first_purchase_date then holding_since.holding_since_date
            else trades.first_purchase_date
        end as investor_since_date,
        -- days since the last contact of any kind (an event or a confirmed purchase)
        {{ days_between(
            "greatest(coalesce(cast(activity.last_active_at as date), trades.last_trade_date),"
            ~ " coalesce(trades.last_trade_date, cast(activity.last_active_at as date)))",
            as_of_date
        ) }} as days_since_last_contact
    from persons
    left join activity on persons.person_id = activity.person_id
    left join sections on persons.person_id = sections.person_id
    left join favourite_events on persons.person_id = favourite_events.person_id
    left join trades on persons.person_id = trades.person_id
    left join holding_since on persons.person_id = holding_since.person_id
),

staged as (
    select
        *,
        case
            when days_since_last_contact is null or days_since_last_contact >= {{ tags['churned_after_days'] }}
                then 'churned'
            when days_since_last_contact >= {{ tags['dormant_after_days'] }} then 'dormant'
            when investor_since_date is null then 'introduction'
            when {{ days_between('investor_since_date', as_of_date) }} < {{ tags['growth_days'] }} then 'growth'
            else 'mature'
        end as lifecycle_stage
    from joined
),

final as (
    select
        person_id,
        last_active_at,
        cast(active_days_7d as bigint) as active_days_7d,
        cast(active_days_30d as bigint) as active_days_30d,
        cast(active_days_90d as bigint) as active_days_90d,
        cast(sessions_30d as bigint) as sessions_30d,
        most_visited_section,
        preferred_event,
        lifecycle_stage,
        lifecycle_stage in ('growth', 'mature')
            and active_days_prior_30d >= {{ tags['churn_warning_min_prior_days'] }}
            and active_days_30d < {{ tags['churn_warning_ratio'] }} * active_days_prior_30d
            as has_churn_warning,
        {{ as_of_date }} as as_of_date
    from staged
)

select * from final
