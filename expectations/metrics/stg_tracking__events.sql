-- One row for the events delivered on the partition date: how many, and the share flagged per
-- exclusion reason (flagged events stay in staging and are removed in int_events_valid).
with events as (
    select exclusion_reason from stg_tracking__events
    where arrival_date = cast($as_of_date as date)
)
select
    count(*) as events,
    coalesce(avg(case when exclusion_reason = 'retired_tracking_point' then 1.0 else 0.0 end), 0) as share_retired_tracking_point,
    coalesce(avg(case when exclusion_reason = 'retired_sdk' then 1.0 else 0.0 end), 0) as share_retired_sdk,
    coalesce(avg(case when exclusion_reason = 'bot' then 1.0 else 0.0 end), 0) as share_bot,
    coalesce(avg(case when exclusion_reason = 'duplicate_event' then 1.0 else 0.0 end), 0) as share_duplicate_event,
    coalesce(avg(case when exclusion_reason = 'test_device' then 1.0 else 0.0 end), 0) as share_test_device,
    coalesce(avg(case when exclusion_reason = 'clock_skew' then 1.0 else 0.0 end), 0) as share_clock_skew
from events
