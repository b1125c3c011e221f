{{ config(pre_hook="{% do fundcdp.keep_previous_tags() %}") }}
-- Dimension 1, basic info: one row per person, as of var('as_of_date').
{%- set as_of = var('as_of_date') %}
{%- set tags = var('fundcdp')['tags'] %}
{%- set bands = tags['age_band_lower_bounds'] %}
{%- set as_of_date_sql = "cast('" ~ as_of ~ "' as date)" %}
{%- set birthday_day = "case when extract(month from with_birth.birth_date) = 2 and extract(day from with_birth.birth_date) = 29 then 28 else extract(day from with_birth.birth_date) end" %}
{%- set birthday_this_year = "make_date(cast(extract(year from " ~ as_of_date_sql ~ ") as integer), cast(extract(month from with_birth.birth_date) as integer), cast(" ~ birthday_day ~ " as integer))" %}
{%- set birthday_next_year = "make_date(cast(extract(year from " ~ as_of_date_sql ~ ") as integer) + 1, cast(extract(month from with_birth.birth_date) as integer), cast(" ~ birthday_day ~ " as integer))" %}
{%- set next_birthday_sql = "case when " ~ birthday_this_year ~ " >= " ~ as_of_date_sql ~ " then " ~ birthday_this_year ~ " else " ~ birthday_next_year ~ " end" %}

with

persons as (
    select * from {{ ref('persons') }}
),

customers as (
    select * from {{ ref('int_person_customers') }}
),

platform_usage as (
    select
        person_id,
        platform,
        row_number() over (partition by person_id order by sum(events) desc, platform) as platform_rank
    from {{ ref('int_person_daily_events') }}
    where activity_date > {{ days_before("cast('" ~ as_of ~ "' as date)", tags['platform_window_days']) }}
        and activity_date <= cast('{{ as_of }}' as date)
    group by person_id, platform
),

first_touch as (
    select person_id, first_utm_source as utm_source
    from (
        select
            person_id,
            first_utm_source,
            row_number() over (partition by person_id order by first_utm_at, login_key) as touch_rank
        from {{ ref('int_person_daily_activity') }}
        where first_utm_source is not null and activity_date <= cast('{{ as_of }}' as date)
    ) as touches
    where touch_rank = 1
),

sign_ups as (
    select person_id, min(activity_date) as sign_up_date
    from {{ ref('int_person_daily_events') }}
    where event_name = 'sign_up' and activity_date <= cast('{{ as_of }}' as date)
    group by person_id
),

with_birth as (
    select
        persons.person_id,
        coalesce(customers.gender, customers.id_gender) as gender,
        coalesce(customers.birth_date, customers.id_birth_date) as birth_date,
        customers.province,
        customers.city,
        customers.open_date,
        cast(persons.first_seen_at as date) as first_seen_date
    from persons
    left join customers on persons.person_id = customers.person_id
),

final as (
    select
        with_birth.person_id,
        with_birth.gender,
        cast(
            extract(year from cast('{{ as_of }}' as date)) - extract(year from with_birth.birth_date)
            - case
                when extract(month from cast('{{ as_of }}' as date)) * 100 + extract(day from cast('{{ as_of }}' as date))
                    < extract(month from with_birth.birth_date) * 100 + extract(day from with_birth.birth_date)
                    then 1
                else 0
            end
            as integer
        ) as age,
        with_birth.birth_date,
        -- days to the next birthday (0 = today); a 29 February birthday is kept on 28 February
        {{ days_between(as_of_date_sql, next_birthday_sql) }} as days_until_birthday,
        with_birth.province,
        with_birth.city,
        platform_usage.platform as main_platform,
        case platform_usage.platform
            when 'ios' then 'mobile_app'
            when 'android' then 'mobile_app'
            when 'h5' then 'mobile_web'
            when 'web' then 'pc_web'
            when 'wechat_mp' then 'wechat_mini_program'
        end as device_type,
        coalesce(first_touch.utm_source, 'organic') as registration_channel,
        coalesce(sign_ups.sign_up_date, with_birth.open_date, with_birth.first_seen_date) as registration_date,
        cast('{{ as_of }}' as date) as as_of_date
    from with_birth
    left join platform_usage
        on with_birth.person_id = platform_usage.person_id and platform_usage.platform_rank = 1
    left join first_touch on with_birth.person_id = first_touch.person_id
    left join sign_ups on with_birth.person_id = sign_ups.person_id
),

banded as (
    select
        person_id,
        gender,
        age,
        case
            when age is null then null
            {%- for lower in bands | reverse %}
            when age >= {{ lower }} then '{{ lower }}{{ "+" if loop.first else "-" ~ (bands[bands | length - loop.index + 1] - 1) }}'
            {%- endfor %}
        end as age_band,
        birth_date,
        cast(days_until_birthday as integer) as days_until_birthday,
        province,
        city,
        main_platform,
        device_type,
        registration_channel,
        registration_date,
        as_of_date
    from final
)

select * from banded
