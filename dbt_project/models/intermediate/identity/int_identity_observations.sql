{{ config(materialized='table') }}
-- Every sighting of an identifier (aggregated per pair and place), and every link between two identifiers seen together, as of the
-- as-of date (event date and arrival date <= as_of_date). Personal identifiers arrive as keyed hashes
-- from ingestion; system identifiers (login id, customer number, fund account) are hashed here, so
-- that the graph holds hashes only. Junk values are kept with is_junk = true for reporting and never
-- link (int_identity_links filters them).

{%- set as_of = var('as_of_date') %}
{%- set link_columns = 'event_name, event_at, event_date, arrival_date, login_id, customer_no, phone_hash, is_phone_valid, is_phone_junk, wx_openid_hash, is_wx_openid_junk, wx_unionid_hash, is_wx_unionid_junk' %}

with

customers as (
    select * from {{ ref('stg_crm__customer_history') }}
    where arrival_date <= cast('{{ as_of }}' as date)
        and cast(valid_from as date) <= cast('{{ as_of }}' as date)
),

fund_accounts as (
    select * from {{ ref('stg_trade__fund_accounts') }}
    where arrival_date <= cast('{{ as_of }}' as date)
),

-- Valid events, and the identity links of valid events that retention purged from raw/ (archived).
events as (
    select {{ link_columns }} from {{ ref('int_events_valid') }}
    where arrival_date <= cast('{{ as_of }}' as date)
        and event_date <= cast('{{ as_of }}' as date)
    union all
    select {{ link_columns }} from {{ source('archive', 'identity_links') }}
    where arrival_date <= cast('{{ as_of }}' as date)
        and event_date <= cast('{{ as_of }}' as date)
),

-- The events' identifier combinations per event name, counted: the event sightings below read these
-- (a fraction of the events' rows) instead of every event four times.
event_sightings as (
    select
        login_id, customer_no, phone_hash, is_phone_valid, is_phone_junk, wx_openid_hash, is_wx_openid_junk,
        wx_unionid_hash, is_wx_unionid_junk, 'tracking.' || event_name as seen_in,
        min(event_at) as first_seen_at, max(event_at) as last_seen_at, count(*) as sightings
    from events
    group by login_id, customer_no, phone_hash, is_phone_valid, is_phone_junk, wx_openid_hash,
        is_wx_openid_junk, wx_unionid_hash, is_wx_unionid_junk, event_name
),

-- (left identifier, right identifier or null, first and last seen, how often, where): one row per
-- sighting of a CRM or trade record, per combination of an event's identifiers.
sightings as (
    select
        'customer_no' as left_type, customer_no as left_value,
        {{ is_junk_identifier('customer_no') }} as is_left_junk,
        'phone' as right_type, phone_hash as right_hash,
        coalesce(is_phone_junk, false) or not coalesce(is_phone_valid, false) as is_right_junk,
        updated_at as first_seen_at, updated_at as last_seen_at, 1 as sightings, 'crm.customers' as seen_in
    from customers
    union all
    select
        'customer_no', customer_no, {{ is_junk_identifier('customer_no') }},
        'id_number', id_number_hash,
        coalesce(is_id_number_junk, false) or not coalesce(is_id_number_valid, false),
        updated_at, updated_at, 1, 'crm.customers'
    from customers
    union all
    select
        'customer_no', customer_no, {{ is_junk_identifier('customer_no') }},
        'email', email_hash, not coalesce(is_email_valid, false),
        updated_at, updated_at, 1, 'crm.customers'
    from customers
    union all
    select
        'fund_account_id', fund_account_id, {{ is_junk_identifier('fund_account_id') }},
        'customer_no', {{ sha256_hex("'customer_no:' || customer_no") }}, {{ is_junk_identifier('customer_no') }},
        coalesce(updated_at, cast(open_date as timestamp)), coalesce(updated_at, cast(open_date as timestamp)), 1,
        'trade.fund_accounts'
    from fund_accounts
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'phone', phone_hash, coalesce(is_phone_junk, false) or not coalesce(is_phone_valid, false),
        first_seen_at, last_seen_at, sightings, seen_in
    from event_sightings
    where login_id is not null or phone_hash is not null
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'customer_no', {{ sha256_hex("'customer_no:' || customer_no") }}, {{ is_junk_identifier('customer_no') }},
        first_seen_at, last_seen_at, sightings, seen_in
    from event_sightings
    where customer_no is not null
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'wx_openid', wx_openid_hash, coalesce(is_wx_openid_junk, false),
        first_seen_at, last_seen_at, sightings, seen_in
    from event_sightings
    where wx_openid_hash is not null
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'wx_unionid', wx_unionid_hash, coalesce(is_wx_unionid_junk, false),
        first_seen_at, last_seen_at, sightings, seen_in
    from event_sightings
    where wx_unionid_hash is not null
),

final as (
    select
        left_type,
        case when left_value is not null then {{ sha256_hex("left_type || ':' || left_value") }} end as left_hash,
        left_value is null or is_left_junk as is_left_junk,
        right_type,
        right_hash,
        right_hash is null or is_right_junk as is_right_junk,
        seen_in,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(sightings) as bigint) as sightings
    from sightings
    where left_value is not null or right_hash is not null
    group by 1, 2, 3, 4, 5, 6, 7
)

select * from final
