{#- The scratch table int_identity_components selects from: __cc_result_<model>, beside the model. -#}
{% macro identity_components_result() %}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier='__cc_result_' ~ this.identifier, type='table'
    )) }}
{% endmacro %}

{#- The pre-hook of int_identity_components: the connected components of the usable identifier graph
    (hubs are left out and stay alone), computed by connected_components() in O(log n) SQL passes into
    identity_components_result(), which the model selects from and its post-hook drops. It runs only when
    dbt runs the model: dbt renders hooks in the materialization, never while compiling (dbt compile,
    docs generate), and while parsing `execute` is false. -#}
{% macro build_identity_components() %}
    {%- if execute -%}
        {%- do fundcdp.connected_components(
            'select node_id as node from ' ~ ref('int_identity_identifiers') ~ ' where not is_hub',
            'select node_a as a, node_b as b from ' ~ ref('int_identity_links'),
            fundcdp.identity_components_result()
        ) -%}
    {%- endif -%}
{% endmacro %}
