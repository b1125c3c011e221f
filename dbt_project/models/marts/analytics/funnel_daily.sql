-- The funnel by landing day (cohort), first-touch channel and landing platform: persons reaching each
-- step, conversion from step 1 and from the previous step, and the median hours from the landing to
-- each step among those who reached it.
{%- set steps = ['landed', 'activated', 'registered', 'account_opened', 'card_bound', 'first_purchase', 'repeat_purchase'] %}

with

funnel as (
    select * from {{ ref('funnel_persons') }}
),

counted as (
    select
        cohort_date,
        first_touch_channel,
        landing_platform,
        {%- for step in steps %}
        count({{ step }}_at) as {{ step }}_persons,
        {%- if not loop.first %}
        median(hours_to_{{ step }}) as {{ step }}_median_hours,
        {%- endif %}
        {%- endfor %}
        max(as_of_date) as as_of_date
    from funnel
    group by cohort_date, first_touch_channel, landing_platform
),

final as (
    select
        cohort_date,
        first_touch_channel,
        landing_platform,
        {%- for step in steps %}
        cast({{ step }}_persons as bigint) as {{ step }}_persons,
        {%- if not loop.first %}
        cast({{ step }}_persons * 1.0 / landed_persons as double) as {{ step }}_rate,
        cast(case when {{ steps[loop.index0 - 1] }}_persons = 0 then null
             else {{ step }}_persons * 1.0 / {{ steps[loop.index0 - 1] }}_persons end as double)
            as {{ step }}_step_rate,
        cast({{ step }}_median_hours as double) as {{ step }}_median_hours,
        {%- endif %}
        {%- endfor %}
        as_of_date
    from counted
)

select * from final
