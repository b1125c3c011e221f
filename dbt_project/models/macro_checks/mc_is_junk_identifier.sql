select
    text_value,
    {{ is_junk_identifier('text_value') }} as is_junk
from {{ ref('macro_check_input') }}
