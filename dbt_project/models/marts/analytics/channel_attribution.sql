-- Channel quality per utm source / medium / campaign / term under three attribution models. A person's
-- touches are the events carrying utm parameters within vars fundcdp.analytics.attribution_lookback_days
-- before their registration (without a registration: before their latest touch). first_touch credits the
-- earliest, last_touch the latest, linear each touch 1/n. Credited outcomes: the person (new persons),
-- registration, account opening, first purchase (count and amount) and current holdings (AUM).
{%- set as_of = var('as_of_date') %}
{%- set lookback_ms = var('fundcdp')['analytics']['attribution_lookback_days'] * 86400000 %}

with

touches as (
    select person_id, event_id, client_time_ms, utm_source, utm_medium, utm_campaign, utm_term
    from {{ ref('int_events_attributed') }}
    where person_id is not null and utm_source is not null and event_date <= cast('{{ as_of }}' as date)
),

registrations as (
    select person_id, min(client_time_ms) as registered_ms
    from {{ ref('int_events_attributed') }}
    where person_id is not null and event_name = 'sign_up' and event_date <= cast('{{ as_of }}' as date)
    group by person_id
),

first_purchases as (
    select person_id, min(confirm_date) as first_purchase_date
    from {{ ref('int_person_daily_trades') }}
    where trade_type in ({{ purchase_trade_types() }}) and confirm_date <= cast('{{ as_of }}' as date)
    group by person_id
),

first_purchase_amounts as (
    select trades.person_id, sum(trades.amount_cny) as first_purchase_amount_cny
    from {{ ref('int_person_daily_trades') }} as trades
    inner join first_purchases
        on trades.person_id = first_purchases.person_id and trades.confirm_date = first_purchases.first_purchase_date
    where trades.trade_type in ({{ purchase_trade_types() }})
    group by trades.person_id
),

outcomes as (
    select
        persons.person_id,
        case when registrations.person_id is not null then 1 else 0 end as registered,
        case when accounts.account_age_days is not null then 1 else 0 end as account_opened,
        case when first_purchases.person_id is not null then 1 else 0 end as purchased,
        coalesce(first_purchase_amounts.first_purchase_amount_cny, 0) as first_purchase_amount_cny,
        coalesce(value.aum_cny, 0) as aum_cny,
        registrations.registered_ms
    from {{ ref('persons') }} as persons
    left join registrations on persons.person_id = registrations.person_id
    left join {{ ref('tags_account') }} as accounts on persons.person_id = accounts.person_id
    left join first_purchases on persons.person_id = first_purchases.person_id
    left join first_purchase_amounts on persons.person_id = first_purchase_amounts.person_id
    left join {{ ref('tags_value') }} as value on persons.person_id = value.person_id
),

conversion_points as (
    select
        outcomes.person_id,
        coalesce(outcomes.registered_ms, max(touches.client_time_ms)) as conversion_ms
    from outcomes
    inner join touches on outcomes.person_id = touches.person_id
    group by outcomes.person_id, outcomes.registered_ms
),

eligible as (
    select
        touches.*,
        row_number() over (partition by touches.person_id order by touches.client_time_ms, touches.event_id) as touch_order,
        row_number() over (partition by touches.person_id order by touches.client_time_ms desc, touches.event_id desc)
            as reverse_order,
        count(*) over (partition by touches.person_id) as touch_count
    from touches
    inner join conversion_points on touches.person_id = conversion_points.person_id
    where touches.client_time_ms <= conversion_points.conversion_ms
        and touches.client_time_ms > conversion_points.conversion_ms - {{ lookback_ms }}
),

credits as (
    {%- for model, weight in [
        ('first_touch', 'case when touch_order = 1 then 1.0 else 0.0 end'),
        ('last_touch', 'case when reverse_order = 1 then 1.0 else 0.0 end'),
        ('linear', '1.0 / touch_count'),
    ] %}
    select '{{ model }}' as attribution_model, person_id, utm_source, utm_medium, utm_campaign, utm_term,
        {{ weight }} as credit
    from eligible
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

final as (
    select
        credits.attribution_model,
        credits.utm_source,
        credits.utm_medium,
        credits.utm_campaign,
        credits.utm_term,
        cast(sum(credits.credit) as double) as new_persons,
        cast(sum(credits.credit * outcomes.registered) as double) as registrations,
        cast(sum(credits.credit * outcomes.account_opened) as double) as accounts_opened,
        cast(sum(credits.credit * outcomes.purchased) as double) as first_purchases,
        cast(round(sum(credits.credit * outcomes.first_purchase_amount_cny), 2) as double)
            as first_purchase_amount_cny,
        cast(round(sum(credits.credit * outcomes.aum_cny), 2) as double) as aum_cny
    from credits
    inner join outcomes on credits.person_id = outcomes.person_id
    where credits.credit > 0
    group by 1, 2, 3, 4, 5
)

select * from final
