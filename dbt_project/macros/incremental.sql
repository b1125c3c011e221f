{#- Incremental by date without merge (Delta / Iceberg jars cannot be fetched): delete+insert of the
    date's rows on DuckDB, insert-overwrite of the date's partition on Spark. The date column must be
    the last selected column (Spark partitions go last). -#}
{% macro incremental_by_date_config(date_column) %}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [date_column], 'file_format': 'parquet'}) }}
    {%- endif -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': date_column}) }}
{% endmacro %}
