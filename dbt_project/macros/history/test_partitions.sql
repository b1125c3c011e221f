{#- Data tests of the incremental models on the rows a build wrote (docs/quality.md, "Data tests on the
    written partitions"). A test opts in with the where config `written_partition(<column>)`, <column>
    being the model's bookkeeping column: the as-of date of the build that last wrote the row
    (built_as_of_date, staged_as_of_date, or as_of_date for the tables keeping one partition per run).
    get_where_subquery() (overrides/override_get_where_subquery.sql) turns it into SQL here. -#}

{#- True when the data tests check whole tables: the full sweep (var full_test_sweep, which the daily
    job's weekly run passes) or a --full-refresh build (every row is written anyway). -#}
{% macro full_test_sweep() %}
    {{ return((var('full_test_sweep', false) | string | lower) in ['true', '1', 'yes'] or flags.FULL_REFRESH) }}
{% endmacro %}

{#- The predicate selecting the rows this run's build wrote: `<column> = <as-of date>`. Every write of an
    incremental model (insert, re-classification, person remap) stamps the run's as-of date in that
    column. None (no restriction) on a full sweep, and when the build wrote every row of `relation` (a
    first build, a full rebuild after a rules change or for an earlier day, Spark's event tables): its
    oldest stamp is the as-of date (one min() over the column of a table, read while the test compiles;
    a view over one stays restricted). -#}
{% macro written_partition_filter(column, relation=none) %}
    {%- if not modules.re.fullmatch('[a-z_][a-z0-9_]*', column) -%}
        {{ exceptions.raise_compiler_error('written_partition: not a column name: ' ~ column) }}
    {%- endif -%}
    {%- if fundcdp.full_test_sweep() -%}
        {{ return(none) }}
    {%- endif -%}
    {#- parsed as a date: only a date becomes SQL text -#}
    {%- set as_of = modules.datetime.date.fromisoformat(var('as_of_date') | string).isoformat() -%}
    {%- if execute and relation is not none -%}
        {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema,
            identifier=relation.identifier) -%}
        {#- a view (the person views) is not read twice: restricted, which selects every row anyway -#}
        {%- set oldest = run_query('select cast(min(' ~ column ~ ') as string) from ' ~ relation).columns[0].values()[0]
            if existing is not none and not existing.is_view else as_of -%}
        {%- if existing is none or (not existing.is_view and (oldest is none or (oldest | string)[:10] >= as_of)) -%}
            {{ return(none) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(column ~ " = cast('" ~ as_of ~ "' as date)") }}
{% endmacro %}

{#- The column of a where config `written_partition(<column>)`, or none for any other where config. -#}
{% macro written_partition_column(where) %}
    {%- set match = modules.re.fullmatch('\s*written_partition\(\s*(\w+)\s*\)\s*', where or '') -%}
    {{ return(match.group(1) if match else none) }}
{% endmacro %}

{#- What a test restricted to the written partition reads instead of `relation`:
    - a row-level test (not_null, accepted_values): the rows the build wrote; a row it did not write is
      the one an earlier build wrote and tested;
    - a key test (unique, fundcdp_unique_combination): every row, old or new, whose key a written row
      has, so that a new row repeating an earlier row's key is still found (only the probe side is
      restricted: the table is scanned for those keys, the group-by covers only them);
    - any other test (relationships, tests across tables or rows): refused, its meaning is global.
    The whole relation on a full sweep or when the build wrote every row. -#}
{% macro written_partition_subquery(relation, column) %}
    {%- set predicate = fundcdp.written_partition_filter(column, relation) -%}
    {%- set test = model.get('test_metadata') or {} -%}
    {%- set kwargs = test.get('kwargs') or {} -%}
    {%- set key = [kwargs['column_name']] if test.get('name') == 'unique'
        else (kwargs['columns'] if test.get('name') == 'fundcdp_unique_combination' else none) -%}
    {%- if test.get('name') not in ['not_null', 'accepted_values'] and key is none -%}
        {{ exceptions.raise_compiler_error(
            'written_partition(' ~ column ~ ') restricts only row-level tests (not_null, accepted_values) and '
            ~ 'key tests (unique, fundcdp_unique_combination); ' ~ (test.get('name') or 'this test')
            ~ ' must check the whole table') }}
    {%- endif -%}
    {%- if predicate is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if key is none -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ predicate ~ ') dbt_subquery') }}
    {%- endif -%}
    {%- for name in key if not modules.re.fullmatch('[a-z_][a-z0-9_]*', name) -%}
        {{ exceptions.raise_compiler_error('written_partition: not a column name in the key: ' ~ name) }}
    {%- endfor -%}
    {%- set matches = [] -%}
    {%- for name in key -%}
        {%- do matches.append('tested.' ~ name ~ ' is not distinct from written_keys.' ~ name) -%}
    {%- endfor -%}
    {%- set subquery -%}
        (select tested.* from {{ relation }} as tested
        inner join (select distinct {{ key | join(', ') }} from {{ relation }} where {{ predicate }}) as written_keys
            on {{ matches | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {{ return(subquery) }}
{% endmacro %}
