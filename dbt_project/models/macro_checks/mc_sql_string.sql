{#- The text has a quote, a backslash and a comment; it is compared with the same text built from
    character codes, not written as an expected row (dbt-spark's fixture literals do not escape backslashes). -#}
select
    text_value,
    {{ sql_string("it's a \\ path; select 1 -- x") }}
        = concat('it', chr(39), 's a ', chr(92), ' path; select 1 -- x') as reads_back_exactly,
    length({{ sql_string("it's a \\ path; select 1 -- x") }}) as literal_length
from {{ ref('macro_check_input') }}
