select
    text_value,
    {{ sha256_hex('text_value') }} as text_sha256
from {{ ref('macro_check_input') }}
