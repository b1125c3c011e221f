{%- set types = var('fundcdp')['identity']['type_priority'] %}

with

resolved as (
    select * from {{ ref('int_identity_persons') }}
),

final as (
    select
        person_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        {%- for t in types %}
        cast(sum(case when identifier_type = '{{ t }}' and not is_corrected then 1 else 0 end) as integer) as {{ t }}_count,
        {%- endfor %}
        {{ distinct_list('seen_in') }} as sources_seen,
        min(anchor_type) as anchor_type
    from resolved
    group by person_id
)

select * from final
