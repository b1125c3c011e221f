{{ config(pre_hook="{% do fundcdp.keep_previous_tags() %}") }}
-- Dimension 5, user value: RFM and high net worth, one row per person, as of var('as_of_date').
-- R, F, M scores are 1-5 by percent rank (equal values share a score, on every engine); the RFM group
-- is the first match in the documented order below.
{%- set as_of = var('as_of_date') %}
{%- set tags = var('fundcdp')['tags'] %}
{%- set as_of_date = "cast('" ~ as_of ~ "' as date)" %}

with

persons as (
    select person_id from {{ ref('persons') }}
),

purchases as (
    select * from {{ ref('int_person_daily_trades') }}
    where trade_type in ({{ purchase_trade_types() }})
        and confirm_date <= {{ as_of_date }}
        and confirm_date > {{ days_before(as_of_date, tags['rfm_window_days']) }}
),

aum as (
    select person_id, cast(sum(market_value_cny) as decimal(38, 2)) as aum_cny
    from {{ ref('int_holdings_attributed') }}
    where is_latest
    group by person_id
),

rfm_values as (
    select
        person_id,
        cast({{ days_between('max(confirm_date)', as_of_date) }} as bigint) as recency_days,
        cast(sum(orders) as bigint) as frequency,
        cast(sum(amount_cny) as decimal(38, 2)) as monetary_cny
    from purchases
    group by person_id
),

rfm_scores as (
    select
        *,
        cast(least(5, 1 + floor(percent_rank() over (order by recency_days desc) * 5)) as integer) as recency_score,
        cast(least(5, 1 + floor(percent_rank() over (order by frequency) * 5)) as integer) as frequency_score,
        cast(least(5, 1 + floor(percent_rank() over (order by monetary_cny) * 5)) as integer) as monetary_score
    from rfm_values
),

final as (
    select
        persons.person_id,
        rfm_scores.recency_days,
        coalesce(rfm_scores.frequency, 0) as frequency,
        coalesce(rfm_scores.monetary_cny, cast(0 as decimal(38, 2))) as monetary_cny,
        rfm_scores.recency_score,
        rfm_scores.frequency_score,
        rfm_scores.monetary_score,
        case
            when rfm_scores.person_id is null then 'no_purchase'
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champions'
            when recency_score <= 2 and frequency_score >= 4 and monetary_score >= 4 then 'cant_lose'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when frequency_score >= 4 then 'loyal'
            when recency_score >= 4 and frequency_score <= 2 then 'promising'
            when recency_score = 1 and frequency_score <= 2 then 'lost'
            when recency_score <= 2 and frequency_score <= 2 then 'hibernating'
            else 'need_attention'
        end as rfm_group,
        coalesce(aum.aum_cny, cast(0 as decimal(38, 2))) as aum_cny,
        coalesce(aum.aum_cny, 0) >= {{ tags['high_net_worth_min_aum_cny'] }} as is_high_net_worth,
        case
            when coalesce(aum.aum_cny, 0) >= {{ tags['high_net_worth_min_aum_cny'] }} then 'high_net_worth'
            when coalesce(aum.aum_cny, 0) >= {{ tags['affluent_min_aum_cny'] }} then 'affluent'
            when coalesce(aum.aum_cny, 0) > 0 then 'mass'
            else 'no_holdings'
        end as value_tier,
        {{ as_of_date }} as as_of_date
    from persons
    left join rfm_scores on persons.person_id = rfm_scores.person_id
    left join aum on persons.person_id = aum.person_id
)

select * from final
