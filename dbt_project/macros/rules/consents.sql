{#- Consent per person as one boolean column per marketing channel, is_<channel>_consented (true only when
    int_person_consents grants it), one row per person with a consent record: the pivot the contact list
    and the segment persons both carry. -#}
{% macro consents_by_channel() -%}
    select
        person_id,
        {%- for channel in var('fundcdp')['segments']['consent_channels'] %}
        max(case when channel = '{{ channel }}' and is_consented then 1 else 0 end) = 1
            as is_{{ channel }}_consented{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_person_consents') }}
    group by person_id
{%- endmacro %}

{#- The columns of consents_by_channel() read through a left join (``alias``): a person without a consent
    record (no CRM record) has no consent. -#}
{% macro consented_columns(alias) -%}
    {%- for channel in var('fundcdp')['segments']['consent_channels'] %}
        coalesce({{ alias }}.is_{{ channel }}_consented, false) as is_{{ channel }}_consented{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
