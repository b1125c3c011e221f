{#- Display masks of clear personal data, for the few restricted models that read the private store
    (models/restricted). Null stays null; a value not of the expected shape is masked entirely as
    '****' (neither its characters nor its length leak). The regexes avoid backslashes: Spark string
    literals treat a backslash as an escape (see regex.sql). -#}

{#- A mainland mobile: 13812340000 -> 138****0000 (first 3 and last 4 digits of exactly 11). -#}
{% macro mask_phone(expression) -%}
{{ return(adapter.dispatch('mask_phone', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__mask_phone(expression) -%}
case
    when {{ expression }} is null then null
    when regexp_full_match({{ expression }}, '[0-9]{11}')
        then left({{ expression }}, 3) || '****' || right({{ expression }}, 4)
    else '****'
end
{%- endmacro %}

{% macro default__mask_phone(expression) -%}
case
    when {{ expression }} is null then null
    when {{ expression }} rlike '^[0-9]{11}$'
        then concat(substring({{ expression }}, 1, 3), '****', substring({{ expression }}, 8, 4))
    else '****'
end
{%- endmacro %}

{#- An 18-character resident ID: region (first 6), 11 '*', check character:
    44030619850312153X -> 440306***********X. 15-digit old IDs and anything else: '****'. -#}
{% macro mask_id_number(expression) -%}
{{ return(adapter.dispatch('mask_id_number', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__mask_id_number(expression) -%}
case
    when {{ expression }} is null then null
    when regexp_full_match({{ expression }}, '[0-9]{17}[0-9Xx]')
        then left({{ expression }}, 6) || repeat('*', 11) || right({{ expression }}, 1)
    else '****'
end
{%- endmacro %}

{% macro default__mask_id_number(expression) -%}
case
    when {{ expression }} is null then null
    when {{ expression }} rlike '^[0-9]{17}[0-9Xx]$'
        then concat(substring({{ expression }}, 1, 6), repeat('*', 11), substring({{ expression }}, 18, 1))
    else '****'
end
{%- endmacro %}

{#- An e-mail address: first character of the local part, '***@', the domain:
    li.ming@example.cn -> l***@example.cn. The '*' before '@' keeps the result from
    reading as an address. Anything without exactly one '@' between non-empty parts: '****'. -#}
{% macro mask_email(expression) -%}
{{ return(adapter.dispatch('mask_email', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__mask_email(expression) -%}
case
    when {{ expression }} is null then null
    when regexp_full_match({{ expression }}, '[^@ ]+@[^@ ]+')
        then left({{ expression }}, 1) || '***@' || split_part({{ expression }}, '@', 2)
    else '****'
end
{%- endmacro %}

{% macro default__mask_email(expression) -%}
case
    when {{ expression }} is null then null
    when {{ expression }} rlike '^[^@ ]+@[^@ ]+$'
        then concat(substring({{ expression }}, 1, 1), '***@', substring_index({{ expression }}, '@', -1))
    else '****'
end
{%- endmacro %}

{#- A name: first character, one '*' per further character (张三丰 -> 张**). A one-character name is
    '*' (the first character would be all of it); an empty one stays empty. -#}
{% macro mask_name(expression) -%}
{{ return(adapter.dispatch('mask_name', 'fundcdp')(expression)) }}
{%- endmacro %}

{% macro duckdb__mask_name(expression) -%}
case
    when {{ expression }} is null then null
    when length({{ expression }}) <= 1 then repeat('*', length({{ expression }}))
    else left({{ expression }}, 1) || repeat('*', length({{ expression }}) - 1)
end
{%- endmacro %}

{% macro default__mask_name(expression) -%}
case
    when {{ expression }} is null then null
    when length({{ expression }}) <= 1 then repeat('*', length({{ expression }}))
    else concat(substring({{ expression }}, 1, 1), repeat('*', length({{ expression }}) - 1))
end
{%- endmacro %}
