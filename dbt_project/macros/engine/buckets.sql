{#- Event-level work in pieces that fit in memory. A full build of an event table on DuckDB runs its
    window sorts and joins per bucket of persons or devices (a 64-bit hash of the key, modulo the number of
    buckets), one statement per bucket: the model's own statement writes bucket 0, its post-hook the others.
    One statement over every event (97M rows at SF10) spilled some 30 GB to disk and took 14-31 times its
    SF1 time; a bucket's sort stays in memory.

    event_buckets(relation): how many buckets the rows of `relation` need, one per FUNDCDP_BUCKET_ROWS rows
    (default 24,000,000; at least 1: under a 6GB limit SF1's 9.5M events sort without spilling, SF10's 97M spilled some 30 GB). Always 1 on Spark, which partitions work itself. -#}
{% macro event_buckets(relation) %}
    {%- if target.type != 'duckdb' or not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set per_bucket = env_var('FUNDCDP_BUCKET_ROWS', '24000000') | int -%}
    {%- set rows = run_query('select count(*) from ' ~ relation).columns[0].values()[0] -%}
    {{ return([1, ((rows + per_bucket - 1) // per_bucket) | int] | max) }}
{% endmacro %}

{#- The predicate selecting bucket `bucket` of `buckets` by `key` (a column expression); a null key falls
    in bucket 0. Built from integers only. -#}
{% macro bucket_predicate(key, bucket, buckets) -%}
    {%- if buckets <= 1 -%}
        true
    {%- else -%}
        coalesce({{ fundcdp.hash64(key) }} % {{ buckets | int }}, 0) = {{ bucket | int }}
    {%- endif -%}
{%- endmacro %}

{#- The restatement of a full build of an event table (an incremental model's macro calls it when its build
    is a full one): {'full': true}, plus on DuckDB when the rows of `relation` (what the model reads) need
    more than one bucket, 'bucket': 0 and 'buckets': how many. The model's own statement writes bucket 0;
    its post-hook (macro fill_other_buckets) inserts buckets 1..n-1, one statement each, straight into the
    model's table. With apply=true (the model's pre-hook) it leaves that number in the marker table
    __buckets_<model>, which tells the post-hook to fill the other buckets; the next post-hook drops it. -#}
{% macro full_build_in_buckets(relation, apply=false) %}
    {#- a unit test renders the model without a relation (`this` is none) and its inputs as CTEs -#}
    {%- if this is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set buckets = fundcdp.event_buckets(relation) -%}
    {%- if buckets <= 1 -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- if apply -%}
        {%- do run_query('create or replace table ' ~ this.schema ~ '.__buckets_' ~ this.identifier
            ~ ' as select ' ~ (buckets | int) ~ ' as buckets') -%}
    {%- endif -%}
    {{ return({'full': true, 'bucket': 0, 'buckets': buckets}) }}
{% endmacro %}

{#- The post-hooks of a model that builds in buckets, for its config: fill the other buckets with the
    model's select macro `select_macro` (a name; macro fill_other_buckets), then drop the marker table
    __buckets_<model>. An empty list without a select macro. -#}
{% macro bucket_post_hooks(select_macro) %}
    {%- if not select_macro -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return([
        '{% do fundcdp.fill_other_buckets(fundcdp.' ~ select_macro ~ ') %}',
        'drop table if exists {{ this.schema }}.__buckets_{{ this.identifier }}',
    ]) }}
{% endmacro %}

{#- The post-hook of a full build in buckets: when the pre-hook left the marker table __buckets_<model>,
    inserts the rows of `render({'full': true}, bucket=b, buckets=n)` into the model's table for each
    bucket b from 1 to n-1 (the model's statement wrote bucket 0), one statement per bucket, by column name.
    `render` is the model's select macro; it keeps only its bucket's rows (macro bucket_predicate on its
    key) wherever it reads events. -#}
{% macro fill_other_buckets(render) %}
    {%- if not execute or this is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- asked of the catalog: dbt's relation cache does not know a table the pre-hook created -#}
    {%- set marker_sql -%}
        select count(*) from information_schema.tables
        where table_schema = '{{ this.schema }}' and table_name = '__buckets_{{ this.identifier }}'
    {%- endset -%}
    {%- if run_query(marker_sql).columns[0].values()[0] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set buckets = run_query('select max(buckets) from ' ~ this.schema ~ '.__buckets_' ~ this.identifier).columns[0].values()[0] | int -%}
    {%- for bucket in range(1, buckets) -%}
        {%- do run_query('insert into ' ~ this ~ ' by name ' ~ render({'full': true}, bucket=bucket, buckets=buckets)) -%}
    {%- endfor -%}
{% endmacro %}
