{{ config(materialized='table') }}
-- Tracking activity per login, day of activity and day it became known (grain: login_key, activity_date,
-- known_date), for features that must not see what was not yet known on their as-of date (model
-- int_churn_feature_snapshots). known_date is the event's arrival day; an anonymous event attributed to
-- the device's first login (identity.anonymous_attribution_days) is known from that login's day on.
with

events as (
    select login_key, event_date, arrival_date, attribution, device_first_login_ms
    from {{ ref('int_events_attributed') }}
    where login_key is not null
),

known as (
    select
        login_key,
        event_date as activity_date,
        case
            when attribution = 'device_first_login' then greatest(
                arrival_date, event_date,
                cast({{ epoch_ms_to_local_timestamp('device_first_login_ms') }} as date)
            )
            else greatest(arrival_date, event_date)
        end as known_date
    from events
),

final as (
    select login_key, activity_date, known_date, cast(count(*) as bigint) as events
    from known
    group by login_key, activity_date, known_date
)

select * from final
