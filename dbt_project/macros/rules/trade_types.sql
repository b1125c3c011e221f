{#- The trade types that count as a purchase (vars fundcdp.tags.purchase_trade_types), as a SQL list. -#}
{% macro purchase_trade_types() -%}
{%- for trade_type in var('fundcdp')['tags']['purchase_trade_types'] -%}
{{ fundcdp.sql_string(trade_type) }}{{ ", " if not loop.last }}
{%- endfor -%}
{%- endmacro %}
