{{ config(materialized='table') }}
-- The attributed events as segment rules read them (`event` and `sequence` conditions without a `where`
-- on event properties): four columns, sorted by event name and day, so the scan of a rule skips every
-- row group of other events and other days (zone maps). The same rules on int_events_attributed read
-- the event name of every event: about half a segment preview's time at SF1, most of it at SF10.

select
    event_name,
    event_date,
    person_id,
    client_time_ms
from {{ ref('int_events_attributed') }}
where person_id is not null
order by event_name, event_date, person_id, client_time_ms
