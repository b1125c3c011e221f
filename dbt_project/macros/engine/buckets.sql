{#- Event-level work in pieces that fit in memory. A full build of an event table on DuckDB runs its
    window sorts and joins per bucket of persons or devices (a 64-bit hash of the key, modulo the number of
    buckets), one statement per bucket, into the scratch table `scratch`; the model then copies that table.
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

{#- Creates (or replaces) `scratch` with the rows of `render(*args, bucket=b, buckets=buckets)` for each
    bucket b, one statement per bucket. `render` is a macro returning a select that keeps only its bucket's
    rows (macro bucket_predicate on its key) wherever it reads events. -#}
{% macro fill_in_buckets(scratch, buckets, render, args=[]) %}
    {%- for bucket in range(buckets) -%}
        {%- set body = render(*args, bucket=bucket, buckets=buckets) -%}
        {%- if loop.first -%}
            {%- do run_query('create or replace table ' ~ scratch ~ ' as ' ~ body) -%}
        {%- else -%}
            {%- do run_query('insert into ' ~ scratch ~ ' ' ~ body) -%}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}

{#- The restatement of a full build of an event table (an incremental model's macro calls it when its build
    is a full one): {'full': true}, plus on DuckDB when the rows of `relation` (what the model reads) need
    more than one bucket, 'buckets': the scratch table __buckets_<model> that the model copies. With
    apply=true (the model's pre-hook) the scratch table is filled by `render` per bucket; the model's
    post-hook (macro event_table_config) drops it. -#}
{% macro full_build_in_buckets(relation, render, apply=false) %}
    {#- a unit test renders the model without a relation (`this` is none) and its inputs as CTEs -#}
    {%- if this is none -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set buckets = fundcdp.event_buckets(relation) -%}
    {%- if buckets <= 1 -%}
        {{ return({'full': true}) }}
    {%- endif -%}
    {%- set scratch = this.schema ~ '.__buckets_' ~ this.identifier -%}
    {%- if apply -%}
        {%- do fundcdp.fill_in_buckets(scratch, buckets, render, [{'full': true}]) -%}
    {%- endif -%}
    {{ return({'full': true, 'buckets': scratch}) }}
{% endmacro %}
