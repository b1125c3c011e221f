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

{#- An identifier's rank in the rule identity.type_priority (1 = strongest, 99 for a type not listed): breaks
    ties between anchors and tells the node key of one hash under two types apart. Argument: a type
    expression. -#}
{% macro identifier_type_rank(identifier_type) -%}
case {{ identifier_type }}
    {%- for t in var('fundcdp')['identity']['type_priority'] %}
    when {{ fundcdp.sql_string(t) }} then {{ loop.index }}
    {%- endfor %}
    else 99
end
{%- endmacro %}

{#- An identifier node's integer key (BIGINT) for the connected-components passes, computed from the node
    itself, so that links need no lookup of their ends: the hash's first 15 hex digits (60 bits) plus
    65,536 x the type's rank plus the epoch. Two nodes share a key with a chance of about n^2 / 2^61 (one
    in 20,000 at 10M identifiers); int_identity_identifiers finds any shared key and numbers those
    nodes -1, -2, ... instead (node_id), and int_identity_links looks up only those. Arguments are SQL
    expressions; the hash is hex (identity hashes are SHA-256 or HMAC-SHA256 hex). -#}
{% macro identity_node_key(identifier_type, identifier_hash, identifier_epoch) -%}
({{ fundcdp.hex_digits_bigint(identifier_hash, 1) }} + 65536 * {{ fundcdp.identifier_type_rank(identifier_type) }} + {{ identifier_epoch }})
{%- endmacro %}
