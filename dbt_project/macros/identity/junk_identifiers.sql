{#- True when an identifier value must never link anything: null, on the junk list, one repeated
    character, or matching a junk pattern (vars fundcdp.identity). Ingestion applies the same rules
    in Python (orchestration/lib/rules.py) to the personal identifiers it hashes. -#}
{% macro is_junk_identifier(expression) -%}
{%- set identity = var('fundcdp')['identity'] -%}
{%- set value = 'trim(' ~ expression ~ ')' -%}
(
    {{ expression }} is null
    or lower({{ value }}) in (
        {%- for junk in identity['junk_values'] %}{{ fundcdp.sql_string(junk | string | lower) }}{{ ", " if not loop.last }}{% endfor -%}
    )
    or {{ value }} in (
        {%- for number in identity['test_phone_numbers'] %}{{ fundcdp.sql_string(number | string) }}{{ ", " if not loop.last }}{% endfor -%}
    )
    or (
        length({{ value }}) >= {{ identity['junk_repeated_character_min_length'] }}
        and replace({{ value }}, substr({{ value }}, 1, 1), '') = ''
    )
    {%- for pattern in identity['junk_patterns'] %}
    or {{ fundcdp.regex_matches(value, pattern) }}
    {%- endfor %}
)
{%- endmacro %}
