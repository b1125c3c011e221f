with

source as (
    select * from {{ source('tracking', 'events') }}
),

final as (
    select
        event_id,
        event_name,
        {{ epoch_ms_to_local_timestamp('client_time_ms') }} as event_at,
        cast({{ epoch_ms_to_local_timestamp('client_time_ms') }} as date) as event_date,
        {{ epoch_ms_to_local_timestamp('receive_time_ms') }} as received_at,
        client_time_ms,
        receive_time_ms,
        anonymous_id,
        login_id,
        platform,
        sdk_version,
        screen_name,
        url,
        app_section,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        user_agent,
        device_model,
        fund_code,
        amount as amount_cny,
        order_id,
        customer_no,
        phone_hash,
        is_phone_valid,
        is_phone_junk,
        wx_openid_hash,
        is_wx_openid_junk,
        wx_unionid_hash,
        is_wx_unionid_junk,
        cast(arrival_date as date) as arrival_date,
        _source_file as source_file,
        _source_line as source_line
    from source
)

select * from final
