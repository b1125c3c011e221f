{#- Connected components by randomised contraction, in set-based SQL, O(log n) passes expected.

    Each pass gives every node a random priority, maps each node to the highest-priority node of its
    closed neighbourhood (min_by of the priority), and rewrites the edge list through that map, dropping
    self-loops and duplicates. A chain of n nodes shrinks by a constant factor per pass, so it takes
    O(log n) passes, never O(n) like label propagation. When no edge is left, the per-pass maps are
    composed backwards to label every original node.

    nodes_sql: a query returning `node` (bigint); edges_sql: a query returning `a`, `b` (bigint).
    Writes `output` (a relation) with columns node, component (a node of the component), passes.
    Intermediate tables are created beside `output` and dropped. Returns the number of passes. -#}
{% macro connected_components(nodes_sql, edges_sql, output, max_passes=64) %}
    {%- set work = [] -%}
    {%- set edges = [fundcdp.cc_work_relation(output, 'edges_0', work)] -%}
    {%- do run_query(create_table_as(False, edges[0],
        'select distinct least(a, b) as a, greatest(a, b) as b from (' ~ edges_sql ~ ') as given where a <> b'
    )) -%}
    {%- set maps = [] -%}
    {%- set state = namespace(done=false) -%}
    {%- for round_number in range(1, max_passes + 1) -%}
        {%- if not state.done -%}
            {%- set remaining = run_query('select count(*) from ' ~ edges[-1]).columns[0].values()[0] -%}
            {%- if remaining == 0 -%}
                {%- set state.done = true -%}
            {%- else -%}
                {%- set mapping = fundcdp.cc_work_relation(output, 'map_' ~ round_number, work) -%}
                {#- Each node's representative: the highest-priority node of its closed neighbourhood. -#}
                {%- do run_query(create_table_as(False, mapping,
                    'with neighbours as ('
                    ~ ' select a as node, b as neighbour from ' ~ edges[-1]
                    ~ ' union all select b as node, a as neighbour from ' ~ edges[-1]
                    ~ '), best as (select node, min_by(neighbour, ' ~ fundcdp.node_priority('neighbour', round_number)
                    ~ ') as neighbour, min(' ~ fundcdp.node_priority('neighbour', round_number)
                    ~ ') as neighbour_priority from neighbours group by node)'
                    ~ ' select node, case when neighbour_priority < ' ~ fundcdp.node_priority('node', round_number)
                    ~ ' then neighbour else node end as representative from best'
                )) -%}
                {%- do maps.append(mapping) -%}
                {%- set next_edges = fundcdp.cc_work_relation(output, 'edges_' ~ round_number, work) -%}
                {%- do run_query(create_table_as(False, next_edges,
                    'select distinct least(ma.representative, mb.representative) as a,'
                    ~ ' greatest(ma.representative, mb.representative) as b'
                    ~ ' from ' ~ edges[-1] ~ ' as e'
                    ~ ' join ' ~ mapping ~ ' as ma on e.a = ma.node'
                    ~ ' join ' ~ mapping ~ ' as mb on e.b = mb.node'
                    ~ ' where ma.representative <> mb.representative'
                )) -%}
                {%- do edges.append(next_edges) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.done -%}
        {{ exceptions.raise_compiler_error('connected components did not converge in ' ~ max_passes ~ ' passes') }}
    {%- endif -%}
    {%- set passes = maps | length -%}

    {#- Compose the maps backwards: label(v) = label_{i+1}(map_i(v)), or map_i(v) when it is final. -#}
    {%- set labels = namespace(relation=none) -%}
    {%- for mapping in maps | reverse -%}
        {%- set composed = fundcdp.cc_work_relation(output, 'labels_' ~ loop.revindex, work) -%}
        {%- if labels.relation is none -%}
            {%- set sql = 'select node, representative from ' ~ mapping -%}
        {%- else -%}
            {%- set sql = 'select m.node, coalesce(l.representative, m.representative) as representative from '
                ~ mapping ~ ' as m left join ' ~ labels.relation ~ ' as l on m.representative = l.node' -%}
        {%- endif -%}
        {%- do run_query(create_table_as(False, composed, sql)) -%}
        {%- set labels.relation = composed -%}
    {%- endfor -%}

    {%- do adapter.drop_relation(output) -%}
    {%- if labels.relation is none -%}
        {%- set final_sql = 'select node, node as component, 0 as passes from (' ~ nodes_sql ~ ') as n' -%}
    {%- else -%}
        {%- set final_sql = 'select n.node, coalesce(l.representative, n.node) as component, '
            ~ passes ~ ' as passes from (' ~ nodes_sql ~ ') as n left join ' ~ labels.relation
            ~ ' as l on n.node = l.node' -%}
    {%- endif -%}
    {%- do run_query(create_table_as(False, output, final_sql)) -%}
    {%- for relation in work -%}
        {%- do adapter.drop_relation(relation) -%}
    {%- endfor -%}
    {{ log('connected components: ' ~ passes ~ ' passes', info=true) }}
    {{ return(passes) }}
{% endmacro %}

{#- A fresh work relation beside `output`, remembered in `work` for dropping. -#}
{% macro cc_work_relation(output, name, work) %}
    {%- set relation = api.Relation.create(
        database=output.database, schema=output.schema, identifier='__cc_' ~ output.identifier ~ '_' ~ name, type='table'
    ) -%}
    {%- do adapter.drop_relation(relation) -%}
    {%- do work.append(relation) -%}
    {{ return(relation) }}
{% endmacro %}

{#- For tests and benchmarks: components of an edge table `edges` (a, b) and node table `nodes` (node)
    in the target schema, written to `output`. `dbt run-operation cc_of_tables --args '{...}'` -#}
{% macro cc_of_tables(nodes, edges, output) %}
    {%- set output_relation = api.Relation.create(database=target.database, schema=target.schema, identifier=output, type='table') -%}
    {%- set passes = fundcdp.connected_components(
        'select node from ' ~ nodes, 'select a, b from ' ~ edges, output_relation
    ) -%}
{% endmacro %}

{#- Does nothing: lets a benchmark measure dbt's own start-up time. -#}
{% macro cc_noop() %}
{% endmacro %}

{#- A pseudo-random priority of an integer node for contraction round `round_number`. Engines
    differ (DuckDB hash vs Spark xxhash64); only the number of passes depends on it, never the
    partition or the person ids. -#}
{% macro node_priority(node, round_number) -%}
{{ return(adapter.dispatch('node_priority', 'fundcdp')(node, round_number)) }}
{%- endmacro %}

{% macro duckdb__node_priority(node, round_number) -%}
hash({{ node }}, {{ round_number }})
{%- endmacro %}

{% macro default__node_priority(node, round_number) -%}
xxhash64({{ node }}, {{ round_number }})
{%- endmacro %}
