with

source as (
    select * from {{ source('trade', 'sip_agreements') }}
),

final as (
    select
        sip_agreement_id,
        fund_account_id,
        fund_code,
        amount as amount_cny,
        frequency,
        start_date,
        sip_status,
        status_changed_date,
        cast(updated_at as timestamp) as updated_at,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
