-- One row for the tags as of the partition date: rows against distinct persons, the share of high net
-- worth and of each lifecycle stage, and their change against the previous as-of date in tag_history
-- (null, and so not judged, when there is no earlier date).
with profile as (
    select * from person_profile
),
history as (
    select * from tag_history
    where tag_code in ('lifecycle_stage', 'is_high_net_worth') and as_of_date < cast($as_of_date as date)
),
previous_date as (
    select max(as_of_date) as as_of_date from history
),
previous_values as (
    select person_id, tag_code, tag_value
    from (
        select *, row_number() over (partition by person_id, tag_code order by as_of_date desc) as recency
        from history
    )
    where recency = 1
),
previous_shares as (
    select
        count(distinct person_id) as persons,
        count(*) filter (where tag_code = 'is_high_net_worth' and tag_value = 'true') as hnw
        {%- for stage in ['introduction', 'growth', 'mature', 'dormant', 'churned'] %}
        , count(*) filter (where tag_code = 'lifecycle_stage' and tag_value = '{{ stage }}') as {{ stage }}
        {%- endfor %}
    from previous_values
),
current_shares as (
    select
        count(*) as rows,
        count(distinct person_id) as persons,
        count(*) filter (where is_high_net_worth) as hnw
        {%- for stage in ['introduction', 'growth', 'mature', 'dormant', 'churned'] %}
        , count(*) filter (where lifecycle_stage = '{{ stage }}') as {{ stage }}
        {%- endfor %}
    from profile
)
select
    c.rows,
    c.persons,
    c.rows - c.persons as duplicate_person_rows,
    (select cast(as_of_date as varchar) from previous_date) as previous_as_of_date,
    c.hnw * 1.0 / greatest(c.persons, 1) as share_high_net_worth,
    abs(c.hnw * 1.0 / greatest(c.persons, 1) - p.hnw * 1.0 / nullif(p.persons, 0)) as change_high_net_worth
    {%- for stage in ['introduction', 'growth', 'mature', 'dormant', 'churned'] %}
    , c.{{ stage }} * 1.0 / greatest(c.persons, 1) as share_{{ stage }}
    , abs(c.{{ stage }} * 1.0 / greatest(c.persons, 1) - p.{{ stage }} * 1.0 / nullif(p.persons, 0)) as change_{{ stage }}
    {%- endfor %}
from current_shares as c
cross join previous_shares as p
