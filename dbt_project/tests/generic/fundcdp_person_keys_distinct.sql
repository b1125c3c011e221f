{#- No two person ids share one integer key (macro person_key, the key the event tables partition and join
    on): a row per shared key. Person ids are 64-bit hashes and the key keeps 60 of those bits, so this
    fails about once in a million warehouses of 10M persons; if it does, two persons' events would be
    numbered into one person's sessions, so the build stops here. -#}
{% test fundcdp_person_keys_distinct(model, column_name) %}

select {{ fundcdp.person_key(column_name) }} as person_key, count(distinct {{ column_name }}) as person_ids
from {{ model }}
where {{ column_name }} is not null
group by 1
having count(distinct {{ column_name }}) > 1

{% endtest %}
