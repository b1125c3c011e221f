-- The identity-carrying columns of the valid tracking events that retention purged from raw/ (one row
-- per archived event), as int_identity_observations reads them beside the events still in raw/.
with

source as (
    select * from {{ source('archive', 'identity_links') }}
),

final as (
    select
        event_id,
        event_name,
        event_at,
        event_date,
        arrival_date,
        login_id,
        customer_no,
        phone_hash,
        is_phone_valid,
        is_phone_junk,
        wx_openid_hash,
        is_wx_openid_junk,
        wx_unionid_hash,
        is_wx_unionid_junk
    from source
)

select * from final
