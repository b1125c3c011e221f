-- Valid events delivered on the partition date, counted per platform (the value set is checked).
select platform, count(*) as events
from int_events_valid
where arrival_date = cast($as_of_date as date)
group by platform
order by platform
