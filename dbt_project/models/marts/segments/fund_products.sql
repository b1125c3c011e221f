-- The fund products as of var('as_of_date'): each fund's latest delivered version on or before the date.
-- Segment rules filter events on the attributes of the event's fund (`where: {fund_type: equity}`, vars
-- fundcdp.segments.product_properties) through it, and analysts get it in analytics.duckdb (no personal
-- data: a product list).
{%- set as_of_date = "cast('" ~ var('as_of_date') ~ "' as date)" %}

with

versions as (
    select
        *,
        row_number() over (
            partition by fund_code order by arrival_date desc, source_line desc
        ) as version_rank
    from {{ ref('stg_trade__fund_products') }}
    where arrival_date <= {{ as_of_date }}
),

final as (
    select
        fund_code,
        fund_name,
        fund_type,
        risk_rating as fund_risk_rating,
        risk_rating_level as fund_risk_rating_level,
        management_company,
        inception_date,
        product_status,
        arrival_date as delivered_on,
        {{ as_of_date }} as as_of_date
    from versions
    where version_rank = 1
)

select * from final
