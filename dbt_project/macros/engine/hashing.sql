{#- Lower-case hex SHA-256 of a string expression. -#}
{% macro sha256_hex(expression) -%}
{{ return(adapter.dispatch('sha256_hex', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__sha256_hex(expression) -%}
sha256({{ expression }})
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
sha2({{ expression }}, 256)
{%- endmacro %}

{#- A 64-bit hash of `expression` (a BIGINT or UBIGINT): a fast first pass over many long strings (which ids
    repeat, which rows of a bucket), always followed by an exact comparison where equality matters, since two
    values may share one. The engines' hash functions differ, so a hash value never leaves the query that
    computes it. -#}
{% macro hash64(expression) -%}
{{ return(adapter.dispatch('hash64', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__hash64(expression) -%}
hash({{ expression }})
{%- endmacro %}

{% macro default__hash64(expression) -%}
xxhash64({{ expression }})
{%- endmacro %}

{#- The 15 hex digits of a string expression from position `start` (1-based) as a BIGINT (60 bits), the same
    number on both engines. The digits must be hex: person ids and identifier hashes always are. -#}
{% macro hex_digits_bigint(expression, start) -%}
{{ return(adapter.dispatch('hex_digits_bigint', 'fundcdp')(expression, start)) }}
{%- endmacro %}

{% macro duckdb__hex_digits_bigint(expression, start) -%}
cast(('0x' || substr({{ expression }}, {{ start }}, 15)) as bigint)
{%- endmacro %}

{% macro default__hex_digits_bigint(expression, start) -%}
cast(conv(substr({{ expression }}, {{ start }}, 15), 16, 10) as bigint)
{%- endmacro %}

{#- A person's integer key (BIGINT): the person id's last 15 hex digits as a number, on both engines
    (person ids are 'P' and 16 hex digits, macro person_id_from_anchor). Event tables carry it so that joins
    and windows per person compare integers, not 17-character strings. Two persons could share a key (60
    bits: about one chance in 10^6 at 10M persons): the unique test on persons.person_key fails the build
    if they ever do. -#}
{% macro person_key(person_id) -%}
{{ fundcdp.hex_digits_bigint(person_id, 3) }}
{%- endmacro %}
