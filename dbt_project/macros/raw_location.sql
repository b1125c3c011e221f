{#- Where a raw table's Parquet files are: raw/<source>/<table>/arrival_date=<D>/*.parquet under the
    data directory. Used by the sources' external_location (dbt-duckdb). -#}
{% macro raw_parquet_glob(source_name, table_name) -%}
{{ env_var('FUNDCDP_DATA_DIR', 'data') }}/raw/{{ source_name }}/{{ table_name }}/*/*.parquet
{%- endmacro %}
