-- Reconciliation, per account and fund, of the latest holdings snapshot delivered by the partition date
-- with the one before it: shares(t) - shares(t-1) - confirmed share changes in between, and market value
-- against shares x NAV of the snapshot day. Conversions move shares into target_fund_code.
with snapshots as (
    select fund_account_id, fund_code, snapshot_date, sum(shares) as shares, sum(market_value_cny) as market_value_cny
    from stg_trade__holdings
    where arrival_date <= cast($as_of_date as date) and snapshot_date <= cast($as_of_date as date)
    group by all
),
dates as (
    select distinct snapshot_date from snapshots
),
latest_two as (
    select snapshot_date, row_number() over (order by snapshot_date desc) as recency from dates
),
current_snapshot as (
    select s.* from snapshots as s join latest_two as d on s.snapshot_date = d.snapshot_date and d.recency = 1
),
previous_snapshot as (
    select s.* from snapshots as s join latest_two as d on s.snapshot_date = d.snapshot_date and d.recency = 2
),
orders as (
    select * from stg_trade__trade_orders
    where order_status = 'confirmed' and arrival_date <= cast($as_of_date as date)
        and confirm_date > (select snapshot_date from latest_two where recency = 2)
        and confirm_date <= (select snapshot_date from latest_two where recency = 1)
),
share_changes as (
    select fund_account_id, fund_code, sum(
        case
            when trade_type in ('purchase', 'subscription', 'sip_deduction', 'dividend') then shares
            when trade_type in ('redemption', 'conversion') then -shares
            else 0
        end
    ) as share_change
    from orders group by all
),
-- a conversion credits round((amount - fee) / NAV of the target fund on the trading day before the
-- confirmation, 2) shares to target_fund_code (docs/source_formats.md)
conversion_credits as (
    select
        orders.fund_account_id,
        orders.target_fund_code as fund_code,
        round((orders.amount_cny - coalesce(orders.fee_cny, 0)) / (
            select arg_max(n.nav, n.nav_date) from stg_trade__navs as n
            where n.fund_code = orders.target_fund_code and n.nav_date < orders.confirm_date
        ), 2) as share_change
    from orders
    where orders.trade_type = 'conversion' and orders.target_fund_code is not null
),
all_changes as (
    select fund_account_id, fund_code, sum(share_change) as share_change
    from (select * from share_changes union all select * from conversion_credits)
    group by all
),
navs as (
    select fund_code, nav_date, max(nav) as nav from stg_trade__navs group by all
),
positions as (
    select
        coalesce(c.fund_account_id, p.fund_account_id) as fund_account_id,
        coalesce(c.fund_code, p.fund_code) as fund_code,
        coalesce(c.shares, 0) as shares,
        coalesce(p.shares, 0) as previous_shares,
        c.market_value_cny,
        c.snapshot_date
    from current_snapshot as c
    full join previous_snapshot as p on c.fund_account_id = p.fund_account_id and c.fund_code = p.fund_code
)
select
    positions.fund_code,
    positions.shares - positions.previous_shares - coalesce(changes.share_change, 0) as unexplained_share_change,
    case
        when positions.market_value_cny is null or navs.nav is null then null
        else abs(positions.market_value_cny - positions.shares * navs.nav) / greatest(positions.market_value_cny, 1)
    end as market_value_relative_error
from positions
left join all_changes as changes
    on positions.fund_account_id = changes.fund_account_id and positions.fund_code = changes.fund_code
left join navs on navs.fund_code = positions.fund_code and navs.nav_date = positions.snapshot_date
where exists (select 1 from latest_two where recency = 2)
