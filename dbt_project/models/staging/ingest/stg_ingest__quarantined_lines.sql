with

source as (
    select * from {{ source('ingest', 'quarantine') }}
),

final as (
    select
        source as source_system,
        table_name,
        file_name,
        cast(arrival_date as date) as arrival_date,
        line_number,
        reason as quarantine_reason,
        detail as quarantine_detail
    from source
)

select * from final
