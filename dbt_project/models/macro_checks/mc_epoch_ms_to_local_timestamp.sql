select
    number_value,
    {{ epoch_ms_to_local_timestamp('number_value') }} as local_at
from {{ ref('macro_check_input') }}
