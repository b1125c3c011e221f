with

source as (
    select * from {{ source('trade', 'nav') }}
),

final as (
    select
        fund_code,
        nav_date,
        nav,
        accumulated_nav,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
