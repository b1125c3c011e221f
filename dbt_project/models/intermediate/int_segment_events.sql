{{ config(pre_hook="{% do fundcdp.segment_events_restatement(apply=true) %}", **fundcdp.segment_events_config()) }}
-- The attributed events as segment rules read them (`event` and `sequence` conditions without a `where`
-- on event properties): the columns they read, sorted by event name and day, so the scan of a rule
-- skips every row group of other events and other days (zone maps); only by those two (sorting 92M rows
-- on the person id and time as well cost most of the node at SF10 and no rule scans by them). The same rules on
-- int_events_attributed read the event name of every event: about half a segment preview's time at SF1,
-- most of it at SF10.
-- Incremental on DuckDB (macro segment_events_restatement): a daily build appends, sorted the same way,
-- the events the attribution wrote or moved since (event_id says which rows they replace), so the row
-- groups it adds hold few days; a first build, --full-refresh and Spark build everything.
{%- set restate = fundcdp.segment_events_restatement() %}

select
    event_name,
    event_date,
    person_id,
    -- the person's integer key: a sequence rule joins a person's two events on it (macro person_key)
    {{ fundcdp.person_key('person_id') }} as person_key,
    client_time_ms,
    event_id,
    cast('{{ var('as_of_date') }}' as date) as built_as_of_date
from {{ ref('int_events_attributed') }}
where person_id is not null
    {%- if not restate['full'] %}
    and {{ restate['stamped'] }}
    {%- endif %}
order by event_name, event_date
