{#- No two rows share the same values of `columns` (dbt_utils is not available offline). -#}
{% test fundcdp_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
