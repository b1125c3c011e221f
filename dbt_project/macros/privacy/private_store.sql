{#- private.duckdb, the clear personal data ingestion splits off (DuckDB only; see models/restricted). -#}
{% macro private_store_path() -%}
{{ return(env_var('FUNDCDP_DATA_DIR', 'data') ~ '/private.duckdb') }}
{%- endmacro %}

{#- True when private.duckdb exists. A warehouse rebuilt from raw/ alone has none. True at parse time,
    so that the restricted models register their dependency on the private source. -#}
{% macro private_store_exists() -%}
{%- if not execute -%}
{{ return(true) }}
{%- endif -%}
{%- set found = run_query("select count(*) from glob(" ~ fundcdp.sql_string(fundcdp.private_store_path()) ~ ")") -%}
{{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- Pre-hook of a restricted model: attach private.duckdb read-only as catalog `private`, if it exists.
    Read-only takes a shared lock: ingestion (the only writer) cannot write it meanwhile, and a writer
    holding it makes the attach fail with a lock error, which Dagster retries as transient; both run in
    the one-writer pool, so neither normally happens. A WAL left by a killed writer is replayed in memory. -#}
{% macro attach_private_store() -%}
{%- if fundcdp.private_store_exists() -%}
attach if not exists {{ fundcdp.sql_string(fundcdp.private_store_path()) }} as private (read_only)
{%- endif -%}
{%- endmacro %}
