{{ config(pre_hook="{% do fundcdp.keep_previous_tags() %}") }}
-- Dimension 3, business features: holdings, trades and fund preferences, one row per person, as of
-- var('as_of_date'). Holdings come from the latest snapshot on or before the date (and 30 days before);
-- the holdings value itself is tags_value.aum_cny.
{%- set as_of = var('as_of_date') %}
{%- set as_of_date = "cast('" ~ as_of ~ "' as date)" %}

with

persons as (
    select person_id from {{ ref('persons') }}
),

products as (
    select fund_code, fund_type, risk_rating_level
    from (
        select
            *,
            row_number() over (partition by fund_code order by arrival_date desc, source_line desc) as version_rank
        from {{ ref('stg_trade__fund_products') }}
        where arrival_date <= {{ as_of_date }}
    ) as versions
    where version_rank = 1
),

trades as (
    select * from {{ ref('int_person_daily_trades') }}
    where confirm_date <= {{ as_of_date }}
),

holdings as (
    select * from {{ ref('int_holdings_attributed') }}
),

latest_positions as (
    select * from holdings
    where is_latest and shares > 0
),

month_ago_aum as (
    select holdings.person_id, sum(holdings.market_value_cny) as aum_cny
    from holdings
    inner join (
        select fund_account_id, max(snapshot_date) as snapshot_date
        from holdings where snapshot_date <= {{ days_before(as_of_date, 30) }}
        group by fund_account_id
    ) as earlier
        on holdings.fund_account_id = earlier.fund_account_id and holdings.snapshot_date = earlier.snapshot_date
    group by holdings.person_id
),

first_held as (
    select person_id, fund_code, min(snapshot_date) as first_held_date
    from holdings
    where shares > 0 and snapshot_date <= {{ as_of_date }}
    group by person_id, fund_code
),

first_bought as (
    select person_id, fund_code, min(confirm_date) as first_bought_date
    from trades
    where trade_type in ({{ purchase_trade_types() }})
    group by person_id, fund_code
),

positions as (
    select
        latest_positions.person_id,
        latest_positions.fund_code,
        sum(latest_positions.market_value_cny) as market_value_cny,
        min(
            case
                when first_bought.first_bought_date is not null
                    and first_bought.first_bought_date < first_held.first_held_date
                    then first_bought.first_bought_date
                else first_held.first_held_date
            end
        ) as held_since_date
    from latest_positions
    left join first_held
        on latest_positions.person_id = first_held.person_id and latest_positions.fund_code = first_held.fund_code
    left join first_bought
        on latest_positions.person_id = first_bought.person_id
        and latest_positions.fund_code = first_bought.fund_code
    group by latest_positions.person_id, latest_positions.fund_code
),

position_summary as (
    select
        positions.person_id,
        cast(sum(positions.market_value_cny) as decimal(38, 2)) as aum_cny,
        avg({{ days_between('positions.held_since_date', as_of_date) }}) as avg_holding_period_days,
        max(products.risk_rating_level) as highest_held_risk_level
    from positions
    left join products on positions.fund_code = products.fund_code
    group by positions.person_id
),

top_funds as (
    select person_id, {{ distinct_list("cast(fund_rank as " ~ dbt.type_string() ~ ") || ':' || fund_code") }}
        as ranked_funds
    from (
        select
            person_id,
            fund_code,
            row_number() over (partition by person_id order by market_value_cny desc, fund_code) as fund_rank
        from positions
    ) as ranked
    where fund_rank <= 3
    group by person_id
),

fund_type_amounts as (
    select
        trades.person_id,
        products.fund_type,
        row_number() over (
            partition by trades.person_id order by sum(trades.amount_cny) desc, products.fund_type
        ) as type_rank
    from trades
    inner join products on trades.fund_code = products.fund_code
    where trades.trade_type in ({{ purchase_trade_types() }})
    group by trades.person_id, products.fund_type
),

trade_summary as (
    select
        person_id,
        {%- for days in [30, 90, 365] %}
        sum(case when confirm_date > {{ days_before(as_of_date, days) }} then orders else 0 end) as trade_count_{{ days }}d,
        sum(case when confirm_date > {{ days_before(as_of_date, days) }} then amount_cny else 0 end)
            as trade_amount_{{ days }}d_cny,
        {%- endfor %}
        min(case when trade_type in ({{ purchase_trade_types() }}) then confirm_date end)
            as first_purchase_date,
        max(case when trade_type in ({{ purchase_trade_types() }}) then confirm_date end)
            as last_purchase_date,
        sum(case
            when trade_type = 'redemption' and confirm_date > {{ days_before(as_of_date, 365) }} then amount_cny
            else 0
        end) as redeemed_365d_cny,
        sum(case
            when trade_type in ({{ purchase_trade_types() }})
                and confirm_date > {{ days_before(as_of_date, 365) }} then amount_cny
            else 0
        end) as purchased_365d_cny
    from trades
    group by person_id
),

risk_levels as (
    select person_id, risk_level_number
    from {{ ref('int_person_customers') }}
),

final as (
    select
        persons.person_id,
        cast(
            coalesce(position_summary.aum_cny, 0) - coalesce(month_ago_aum.aum_cny, 0) as decimal(38, 2)
        ) as aum_change_30d_cny,
        {%- for days in [30, 90, 365] %}
        cast(coalesce(trade_summary.trade_count_{{ days }}d, 0) as bigint) as trade_count_{{ days }}d,
        cast(coalesce(trade_summary.trade_amount_{{ days }}d_cny, 0) as decimal(38, 2)) as trade_amount_{{ days }}d_cny,
        {%- endfor %}
        trade_summary.first_purchase_date,
        trade_summary.last_purchase_date,
        fund_type_amounts.fund_type as preferred_fund_type,
        top_funds.ranked_funds as top_funds_held,
        cast(position_summary.avg_holding_period_days as double) as avg_holding_period_days,
        cast(
            case
                when coalesce(trade_summary.purchased_365d_cny, 0) = 0 then null
                else trade_summary.redeemed_365d_cny / trade_summary.purchased_365d_cny
            end as double
        ) as redemption_ratio,
        coalesce(position_summary.highest_held_risk_level > risk_levels.risk_level_number, false)
            as holds_fund_above_risk_tolerance,
        {{ as_of_date }} as as_of_date
    from persons
    left join position_summary on persons.person_id = position_summary.person_id
    left join month_ago_aum on persons.person_id = month_ago_aum.person_id
    left join trade_summary on persons.person_id = trade_summary.person_id
    left join fund_type_amounts on persons.person_id = fund_type_amounts.person_id and fund_type_amounts.type_rank = 1
    left join top_funds on persons.person_id = top_funds.person_id
    left join risk_levels on persons.person_id = risk_levels.person_id
)

select * from final
