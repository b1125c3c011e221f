{#- daily_restatement() of int_daily_account_trades: restated from the earliest confirmation day of the
    orders delivered since the last run (a corrected order re-delivered later restates its old and new
    days). Only reads while the model renders; apply=true is the model's pre-hook (deletes the days). -#}
{% macro daily_account_trades_restatement(apply=false) %}
    {%- set orders = ref('stg_trade__trade_orders') -%}
    {{ return(fundcdp.daily_restatement(
        'confirm_date',
        "select min(confirm_date) from " ~ orders ~ " where arrival_date <= cast('" ~ var('as_of_date') ~ "' as date)"
        ~ " and order_id in (select order_id from " ~ orders
        ~ " where __NEW_ARRIVALS__)",
        apply=apply,
    )) }}
{% endmacro %}
