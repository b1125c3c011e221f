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
