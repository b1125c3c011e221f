{#- Epoch milliseconds (a UTC instant) to a local timestamp without time zone in the project's zone
    (vars fundcdp.time_zone, Asia/Shanghai). -#}
{% macro epoch_ms_to_local_timestamp(epoch_ms) -%}
{{ return(adapter.dispatch('epoch_ms_to_local_timestamp', 'fundcdp')(epoch_ms)) }}
{%- endmacro %}

{% macro duckdb__epoch_ms_to_local_timestamp(epoch_ms) -%}
timezone('{{ var("fundcdp")["time_zone"] }}', to_timestamp({{ epoch_ms }} / 1000.0))
{%- endmacro %}

{#- Spark: shift the instant to local wall-clock time, then drop the zone (timestamp_ntz, like DuckDB's
    TIMESTAMP). The session time zone is UTC (profiles.yml), so the cast keeps the shifted wall clock. -#}
{% macro default__epoch_ms_to_local_timestamp(epoch_ms) -%}
cast(from_utc_timestamp(timestamp_millis({{ epoch_ms }}), '{{ var("fundcdp")["time_zone"] }}') as timestamp_ntz)
{%- endmacro %}

{#- A date `days` days before a date expression (a date, not a timestamp, on every engine). -#}
{% macro days_before(date_expression, days) -%}
{{ return(adapter.dispatch('days_before', 'fundcdp')(date_expression, days)) }}
{%- endmacro %}

{% macro duckdb__days_before(date_expression, days) -%}
cast({{ date_expression }} - {{ days }} as date)
{%- endmacro %}

{% macro default__days_before(date_expression, days) -%}
date_sub({{ date_expression }}, {{ days }})
{%- endmacro %}

{#- Whole days from `start_date` to `end_date` (positive when end is later). -#}
{% macro days_between(start_date, end_date) -%}
{{ return(adapter.dispatch('days_between', 'fundcdp')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}


{#- A date `days` days after a date expression (a date on every engine). -#}
{% macro days_after(date_expression, days) -%}
{{ return(adapter.dispatch('days_after', 'fundcdp')(date_expression, days)) }}
{%- endmacro %}

{% macro duckdb__days_after(date_expression, days) -%}
cast({{ date_expression }} + {{ days }} as date)
{%- endmacro %}

{% macro default__days_after(date_expression, days) -%}
date_add({{ date_expression }}, {{ days }})
{%- endmacro %}
