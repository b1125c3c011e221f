select
    text_value,
    {{ days_before('cast(text_value as date)', 365) }} as year_before,
    {{ days_between('cast(text_value as date)', "cast('2026-06-30' as date)") }} as days_to_end_of_june
from {{ ref('macro_check_input') }}
