with

source as (
    select * from {{ source('trade', 'fund_products') }}
),

final as (
    select
        fund_code,
        fund_name,
        fund_type,
        risk_rating,
        cast(substr(risk_rating, 2, 1) as integer) as risk_rating_level,
        management_company,
        inception_date,
        status as product_status,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
