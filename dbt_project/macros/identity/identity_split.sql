{#- Split components that hold two different values of a unique identifier type (Adobe's rule).

    A value corrected on its own CRM record (is_corrected, int_identity_identifiers) is not a value of
    the type here: a customer whose ID number was corrected is not split over its old number.

    For each such component its links are replayed newest first into a union-find (at equal times,
    links to a unique-type value first: a record's own ID number is the strongest evidence); a link that
    would join two different unique values is dropped. Conflicted components are rare and small, so this runs
    in Jinja over their links fetched with run_query; everything else never leaves SQL.

    Returns the list of (node_id, cluster_node_id) for every node of a conflicted component; the dropped
    links follow from it (int_identity_split_links). -#}
{% macro split_unique_conflicts(identifiers, links, components) %}
    {%- set unique_types = var('fundcdp')['identity']['unique_types'] -%}
    {%- set type_list -%}{% for t in unique_types %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %}{%- endset -%}
    {%- set conflicted_sql -%}
        select c.component_node_id
        from {{ components }} as c
        join {{ identifiers }} as i on c.node_id = i.node_id
        where i.identifier_type in ({{ type_list }}) and not i.is_corrected
        group by c.component_node_id
        having count(distinct i.identifier_type || ':' || i.identifier_hash) > 1
    {%- endset -%}
    {%- set node_rows = run_query(
        'select c.node_id, case when i.identifier_type in (' ~ type_list ~ ') and not i.is_corrected'
        ~ ' then i.identifier_type || \':\' || i.identifier_hash end as unique_value'
        ~ ' from ' ~ components ~ ' as c join ' ~ identifiers ~ ' as i on c.node_id = i.node_id'
        ~ ' where c.component_node_id in (' ~ conflicted_sql ~ ') order by c.node_id'
    ) -%}
    {#- Newest first; at equal times links to a unique-type value (a record's own ID number) first. -#}
    {%- set link_rows = run_query(
        'select l.node_a, l.node_b from ' ~ links ~ ' as l'
        ~ ' join ' ~ components ~ ' as c on l.node_a = c.node_id'
        ~ ' join ' ~ identifiers ~ ' as ia on l.node_a = ia.node_id'
        ~ ' join ' ~ identifiers ~ ' as ib on l.node_b = ib.node_id'
        ~ ' where c.component_node_id in (' ~ conflicted_sql ~ ')'
        ~ ' order by l.linked_at desc,'
        ~ ' case when ia.identifier_type in (' ~ type_list ~ ') or ib.identifier_type in (' ~ type_list ~ ')'
        ~ ' then 0 else 1 end, l.node_a, l.node_b'
    ) -%}
    {%- set parent = {} -%}
    {%- set unique_value = {} -%}
    {%- set size = {} -%}
    {%- for row in node_rows -%}
        {%- do parent.update({row[0]: row[0]}) -%}
        {%- do unique_value.update({row[0]: row[1]}) -%}
        {%- do size.update({row[0]: 1}) -%}
    {%- endfor -%}
    {%- for link in link_rows -%}
        {%- set ra = fundcdp.union_find_root(parent, link[0]) -%}
        {%- set rb = fundcdp.union_find_root(parent, link[1]) -%}
        {%- if ra != rb -%}
            {%- set ua = unique_value[ra] -%}
            {%- set ub = unique_value[rb] -%}
            {#- A link that would join two different unique values is dropped (not unioned). -#}
            {%- if ua is none or ub is none or ua == ub -%}
                {#- Union by size keeps trees shallow. -#}
                {%- set big, small = (ra, rb) if size[ra] >= size[rb] else (rb, ra) -%}
                {%- do parent.update({small: big}) -%}
                {%- do size.update({big: size[big] + size[small]}) -%}
                {%- do unique_value.update({big: ua if ua is not none else ub}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set assignments = [] -%}
    {%- for row in node_rows -%}
        {%- do assignments.append((row[0], fundcdp.union_find_root(parent, row[0]))) -%}
    {%- endfor -%}
    {{ return(assignments) }}
{% endmacro %}

{% macro union_find_root(parent, node) %}
    {%- set state = namespace(node=node) -%}
    {%- for _ in range(64) -%}
        {%- if parent[state.node] != state.node -%}
            {%- set state.node = parent[state.node] -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(state.node) }}
{% endmacro %}
