-- Trade orders delivered on the partition date: value sets and ranges.
select trade_type, order_status, channel, amount_cny, shares, fee_cny
from stg_trade__trade_orders
where arrival_date = cast($as_of_date as date)
