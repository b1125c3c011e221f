with

source as (
    select * from {{ source('crm', 'marketing_consents') }}
),

final as (
    select
        customer_no,
        channel,
        consent_status,
        consent_status = 'granted' as is_consented,
        cast(updated_at as timestamp) as updated_at,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
