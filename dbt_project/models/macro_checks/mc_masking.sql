select
    text_value,
    {{ mask_phone('text_value') }} as phone_masked,
    {{ mask_id_number('text_value') }} as id_number_masked,
    {{ mask_email('text_value') }} as email_masked,
    {{ mask_name('text_value') }} as name_masked
from {{ ref('macro_check_input') }}
