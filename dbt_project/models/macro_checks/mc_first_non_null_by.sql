select
    group_number,
    {{ first_non_null_by('text_value', ['number_value', 'text_value']) }} as first_text_value,
    {{ first_by('text_value', ['number_value', 'text_value']) }} as first_row_text_value
from {{ ref('macro_check_input') }}
group by group_number
