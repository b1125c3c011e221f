with

source as (
    select * from {{ source('crm', 'customers') }}
),

final as (
    select
        customer_no,
        name_hash,
        gender,
        birth_date,
        id_type,
        id_number_hash,
        is_id_number_valid,
        is_id_number_junk,
        id_birth_date,
        id_gender,
        id_region_code,
        phone_hash,
        is_phone_valid,
        is_phone_junk,
        email_hash,
        is_email_valid,
        email_domain,
        province,
        city,
        risk_level,
        cast(substr(risk_level, 2, 1) as integer) as risk_level_number,
        risk_assessed_date,
        kyc_status,
        open_date,
        open_channel,
        cast(updated_at as timestamp) as updated_at,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
