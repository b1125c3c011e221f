select
    group_number,
    {{ distinct_list('text_value') }} as text_values
from {{ ref('macro_check_input') }}
group by group_number
