{%- set tracking = var('fundcdp')['tracking'] %}
select
    text_value,
    {{ regex_matches('text_value', tracking['retired_sdk_patterns'][0]) }} as is_retired_ios_sdk,
    {{ regex_matches('text_value', tracking['bot_user_agent_pattern']) }} as is_bot_user_agent
from {{ ref('macro_check_input') }}
