{#- The keys of the identity graph. Python computes the same (orchestration/lib/identity_keys.py);
    tests/integration/test_rule_agreement.py asserts the two agree. -#}

{#- Identity hash of a system identifier: lower-case hex sha256 of '<type>:<value>'. Both arguments are
    SQL expressions (a type name is passed quoted: "'customer_no'"). -#}
{% macro identity_hash(identifier_type, value) -%}
{{ fundcdp.sha256_hex(identifier_type ~ " || ':' || " ~ value) }}
{%- endmacro %}

{#- Person id from a person's anchor identifier: 'P' and the first 16 hex digits, upper case, of
    sha256('<anchor type>:<anchor hash>'), with '#<epoch>' appended to the hashed text for an anchor in a
    later epoch of a reassigned phone (docs/identity.md). Arguments are SQL expressions. -#}
{% macro person_id_from_anchor(anchor_type, anchor_hash, anchor_epoch) -%}
'P' || upper(substr({{ fundcdp.sha256_hex(
    anchor_type ~ " || ':' || " ~ anchor_hash
    ~ " || case when " ~ anchor_epoch ~ " > 0 then '#' || cast(" ~ anchor_epoch ~ " as " ~ dbt.type_string() ~ ") else '' end"
) }}, 1, 16))
{%- endmacro %}
