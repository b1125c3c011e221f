select
    number_value,
    {{ last_non_null('text_value') }} over (
        partition by group_number order by number_value rows between unbounded preceding and current row
    ) as last_so_far,
    {{ first_non_null('text_value') }} over (
        partition by group_number order by number_value rows between current row and unbounded following
    ) as first_from_here
from {{ ref('macro_check_input') }}
