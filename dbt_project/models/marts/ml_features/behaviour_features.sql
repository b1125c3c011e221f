{{ config(materialized='table') }}
-- Behaviour features for the clusters (asset models/behaviour_clusters), one row per person with a
-- confirmed purchase in the last tags.rfm_window_days or an event in the last 90 days, as of the as-of
-- date: the product-type mix of their purchase amount, SIP use, trade frequency, the app-section and
-- channel mix of their events. Shares are 0..1 (0 when there is nothing to share out).
{%- set as_of_date = "cast('" ~ var('as_of_date') ~ "' as date)" %}
{%- set window_days = var('fundcdp')['tags']['rfm_window_days'] %}
{%- set product_groups = {
    'money_market': ['money_market'],
    'bond': ['bond', 'fixed_income_plus'],
    'equity': ['equity', 'index', 'qdii'],
    'hybrid': ['hybrid'],
} %}
{%- set sections = ['fund_market', 'my_assets', 'sip', 'news', 'activity'] %}

with

products as (
    select fund_code, fund_type
    from (
        select
            fund_code,
            fund_type,
            row_number() over (partition by fund_code order by arrival_date desc, source_line desc) as version_rank
        from {{ ref('stg_trade__fund_products') }}
        where arrival_date <= {{ as_of_date }}
    ) as versions
    where version_rank = 1
),

purchases as (
    select trades.person_id, trades.trade_type, trades.orders, trades.amount_cny, products.fund_type
    from {{ ref('int_person_daily_trades') }} as trades
    left join products on trades.fund_code = products.fund_code
    where trades.trade_type in ({{ purchase_trade_types() }})
        and trades.confirm_date > {{ days_before(as_of_date, window_days) }}
        and trades.confirm_date <= {{ as_of_date }}
),

purchase_mix as (
    select
        person_id,
        sum(orders) as purchases,
        sum(amount_cny) as purchase_amount_cny,
        {%- for group, types in product_groups.items() %}
        sum(case when fund_type in ('{{ types | join("', '") }}') then amount_cny else 0 end) as {{ group }}_amount_cny,
        {%- endfor %}
        sum(case when trade_type = 'sip_deduction' then orders else 0 end) as sip_purchases
    from purchases
    group by person_id
),

events as (
    select person_id, platform, app_section, events
    from {{ ref('int_person_daily_events') }}
    where activity_date > {{ days_before(as_of_date, 90) }} and activity_date <= {{ as_of_date }}
),

event_mix as (
    select
        person_id,
        sum(events) as events,
        {%- for section in sections %}
        sum(case when app_section = '{{ section }}' then events else 0 end) as {{ section }}_events,
        {%- endfor %}
        sum(case when platform in ('ios', 'android') then events else 0 end) as app_events,
        sum(case when platform in ('web', 'h5') then events else 0 end) as web_events,
        sum(case when platform = 'wechat_mp' then events else 0 end) as wechat_events
    from events
    group by person_id
),

active_days as (
    select person_id, active_days_90d
    from {{ ref('tags_activity') }}
),

population as (
    select person_id from purchase_mix
    union
    select person_id from event_mix
),

final as (
    select
        population.person_id,
        {%- for group in product_groups %}
        cast(case when coalesce(purchase_mix.purchase_amount_cny, 0) > 0
            then purchase_mix.{{ group }}_amount_cny / purchase_mix.purchase_amount_cny else 0 end as double)
            as share_{{ group }}_purchases,
        {%- endfor %}
        cast(case when coalesce(purchase_mix.purchases, 0) > 0
            then purchase_mix.sip_purchases * 1.0 / purchase_mix.purchases else 0 end as double)
            as share_sip_purchases,
        cast(coalesce(purchase_mix.purchases, 0) as bigint) as purchases_365d,
        cast(coalesce(active_days.active_days_90d, 0) as bigint) as active_days_90d,
        {%- for section in sections %}
        cast(case when coalesce(event_mix.events, 0) > 0
            then event_mix.{{ section }}_events * 1.0 / event_mix.events else 0 end as double)
            as share_{{ section }}_events,
        {%- endfor %}
        cast(case when coalesce(event_mix.events, 0) > 0
            then event_mix.app_events * 1.0 / event_mix.events else 0 end as double) as share_app_events,
        cast(case when coalesce(event_mix.events, 0) > 0
            then event_mix.web_events * 1.0 / event_mix.events else 0 end as double) as share_web_events,
        cast(case when coalesce(event_mix.events, 0) > 0
            then event_mix.wechat_events * 1.0 / event_mix.events else 0 end as double) as share_wechat_events,
        {{ as_of_date }} as as_of_date
    from population
    left join purchase_mix on population.person_id = purchase_mix.person_id
    left join event_mix on population.person_id = event_mix.person_id
    left join active_days on population.person_id = active_days.person_id
)

select * from final
