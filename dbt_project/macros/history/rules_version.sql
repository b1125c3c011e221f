{#- The business rules a table was built with: an incremental table built with other vars fundcdp rules
    (a changed bot threshold, session gap, junk pattern ...) is rebuilt in full, so a rule change applies
    to old events too. DuckDB records the version (an md5 of the rules) as the table's comment after each
    build; on Spark the incremental daily aggregates do not check it (rebuild them with --full-refresh
    after a rule change). -#}
{% macro rules_version() %}
    {{ return('fundcdp rules ' ~ local_md5(tojson(var('fundcdp'), sort_keys=True))) }}
{% endmacro %}

{% macro record_rules_version() %}
    {{ return(adapter.dispatch('record_rules_version', 'fundcdp')()) }}
{% endmacro %}

{% macro default__record_rules_version() %}
    {{ return('select 1') }}
{% endmacro %}

{% macro duckdb__record_rules_version() %}
    {{ return("comment on table " ~ this ~ " is '" ~ fundcdp.rules_version() ~ "'") }}
{% endmacro %}

{% macro rules_changed() %}
    {{ return(adapter.dispatch('rules_changed', 'fundcdp')()) }}
{% endmacro %}

{% macro default__rules_changed() %}
    {{ return(false) }}
{% endmacro %}

{% macro duckdb__rules_changed() %}
    {%- set recorded = run_query(
        "select comment from duckdb_tables() where database_name = '" ~ this.database ~ "' and schema_name = '"
        ~ this.schema ~ "' and table_name = '" ~ this.identifier ~ "'"
    ).columns[0].values() -%}
    {{ return(recorded | length == 0 or recorded[0] != fundcdp.rules_version()) }}
{% endmacro %}
