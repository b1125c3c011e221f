{{ config(materialized='table') }}
-- Every sighting of an identifier (aggregated per pair and place), and every link between two identifiers seen together, as of the
-- as-of date (event date and arrival date <= as_of_date). Personal identifiers arrive as keyed hashes
-- from ingestion; system identifiers (login id, customer number, fund account) are hashed here, so
-- that the graph holds hashes only. Junk values are kept with is_junk = true for reporting and never
-- link (int_identity_links filters them).
-- Identity over time (docs/identity.md): a phone released by the CRM (removed from every record
-- carrying it for identity.phone_reassignment_days) starts a new epoch; a pair first seen on or after
-- the release links the phone's new epoch (right_epoch), a different node from the old holder's. A CRM
-- value the record no longer carries in its latest known version is flagged is_right_superseded.

{%- set as_of = var('as_of_date') %}
{%- set reassignment_days = var('fundcdp')['identity']['phone_reassignment_days'] | int %}
{%- set link_columns = 'event_name, event_at, event_date, arrival_date, login_id, customer_no, phone_hash, is_phone_valid, is_phone_junk, wx_openid_hash, is_wx_openid_junk, wx_unionid_hash, is_wx_unionid_junk' %}

with

customers as (
    select * from {{ ref('int_crm__customer_history') }}
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
    select {{ link_columns }} from {{ ref('stg_archive__identity_links') }}
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

-- Each version's end as known on the as-of date (the next version that had arrived by then; stg's
-- valid_to may come from a later delivery) and whether it is the customer's latest known version.
customer_versions as (
    select
        customers.*,
        lead(updated_at) over (
            partition by customer_no order by updated_at, arrival_date, source_file, source_line
        ) as known_valid_to,
        row_number() over (
            partition by customer_no
            order by updated_at desc, arrival_date desc, source_file desc, source_line desc
        ) = 1 as is_latest_known_version
    from customers
),

latest_versions as (
    select customer_no, phone_hash, id_number_hash, email_hash
    from customer_versions
    where is_latest_known_version
),

-- Each version's values, and whether the record's latest known version no longer carries them.
customer_values as (
    select
        customer_versions.*,
        coalesce(latest_versions.phone_hash, '') <> coalesce(customer_versions.phone_hash, '')
            as is_phone_superseded,
        coalesce(latest_versions.id_number_hash, '') <> coalesce(customer_versions.id_number_hash, '')
            as is_id_number_superseded,
        coalesce(latest_versions.email_hash, '') <> coalesce(customer_versions.email_hash, '')
            as is_email_superseded
    from customer_versions
    inner join latest_versions on customer_versions.customer_no = latest_versions.customer_no
),

-- When a CRM record held a usable phone: [from, to), to null while the latest version still carries it.
phone_holdings as (
    select phone_hash, updated_at as held_from, known_valid_to as held_to
    from customer_versions
    where phone_hash is not null and not coalesce(is_phone_junk, false) and coalesce(is_phone_valid, false)
),

-- A phone is released phone_reassignment_days after a holding ended, unless a CRM record held it
-- again (or still) before that day: a number in transition stays with its holder. So the holdings of a
-- phone, in order of their start, form spells: a holding starting phone_reassignment_days or more after
-- the latest end of every earlier one (none open) starts a new spell, and a spell without an open holding
-- releases the phone after its latest end. Windows, not a self-join of the holdings: a phone held by
-- many records (or a CRM re-delivering every record) has many holdings, and pairing them is quadratic.
holding_gaps as (
    select
        phone_hash,
        held_from,
        held_to,
        max(held_to) over (
            partition by phone_hash order by held_from, held_to
            rows between unbounded preceding and 1 preceding
        ) as earlier_end,
        max(case when held_to is null then 1 else 0 end) over (
            partition by phone_hash order by held_from, held_to
            rows between unbounded preceding and 1 preceding
        ) as is_earlier_open
    from phone_holdings
),

holding_spells as (
    select
        phone_hash,
        held_to,
        sum(
            case
                when is_earlier_open is null then 1
                when is_earlier_open = 0
                    and cast(held_from as date) >= {{ days_after('cast(earlier_end as date)', reassignment_days) }}
                    then 1
                else 0
            end
        ) over (
            partition by phone_hash order by held_from, held_to
            rows between unbounded preceding and current row
        ) as spell
    from holding_gaps
),

phone_releases as (
    select
        phone_hash,
        {{ days_after('cast(max(held_to) as date)', reassignment_days) }} as released_on
    from holding_spells
    group by phone_hash, spell
    having max(case when held_to is null then 1 else 0 end) = 0
),

-- (left identifier, right identifier or null, first and last seen, how often, where): one row per
-- sighting of a CRM or trade record, per combination of an event's identifiers.
sightings as (
    select
        'customer_no' as left_type, customer_no as left_value,
        {{ is_junk_identifier('customer_no') }} as is_left_junk,
        'phone' as right_type, phone_hash as right_hash,
        coalesce(is_phone_junk, false) or not coalesce(is_phone_valid, false) as is_right_junk,
        updated_at as first_seen_at, updated_at as last_seen_at, 1 as sightings, 'crm.customers' as seen_in,
        is_phone_superseded as is_right_superseded
    from customer_values
    union all
    select
        'customer_no', customer_no, {{ is_junk_identifier('customer_no') }},
        'id_number', id_number_hash,
        coalesce(is_id_number_junk, false) or not coalesce(is_id_number_valid, false),
        updated_at, updated_at, 1, 'crm.customers', is_id_number_superseded
    from customer_values
    union all
    select
        'customer_no', customer_no, {{ is_junk_identifier('customer_no') }},
        'email', email_hash, not coalesce(is_email_valid, false),
        updated_at, updated_at, 1, 'crm.customers', is_email_superseded
    from customer_values
    union all
    select
        'fund_account_id', fund_account_id, {{ is_junk_identifier('fund_account_id') }},
        'customer_no', {{ identity_hash("'customer_no'", 'customer_no') }}, {{ is_junk_identifier('customer_no') }},
        coalesce(updated_at, cast(open_date as timestamp)), coalesce(updated_at, cast(open_date as timestamp)), 1,
        'trade.fund_accounts', false
    from fund_accounts
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'phone', phone_hash, coalesce(is_phone_junk, false) or not coalesce(is_phone_valid, false),
        first_seen_at, last_seen_at, sightings, seen_in, false
    from event_sightings
    where login_id is not null or phone_hash is not null
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'customer_no', {{ identity_hash("'customer_no'", 'customer_no') }}, {{ is_junk_identifier('customer_no') }},
        first_seen_at, last_seen_at, sightings, seen_in, false
    from event_sightings
    where customer_no is not null
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'wx_openid', wx_openid_hash, coalesce(is_wx_openid_junk, false),
        first_seen_at, last_seen_at, sightings, seen_in, false
    from event_sightings
    where wx_openid_hash is not null
    union all
    select
        'login_id', login_id, {{ is_junk_identifier('login_id') }},
        'wx_unionid', wx_unionid_hash, coalesce(is_wx_unionid_junk, false),
        first_seen_at, last_seen_at, sightings, seen_in, false
    from event_sightings
    where wx_unionid_hash is not null
),

-- A pair (left value, phone) belongs to the phone's epoch on the day the pair was first seen (in any
-- place): the number of releases of the phone on or before that day. A pair keeps its epoch, so a
-- holder who goes on using the number after a release stays on the old node.
phone_pairs as (
    select left_type, left_value, right_hash, min(first_seen_at) as first_seen_at
    from sightings
    where right_type = 'phone'
        and right_hash in (select phone_hash from phone_releases)
    group by left_type, left_value, right_hash
),

phone_pair_epochs as (
    select phone_pairs.left_type, phone_pairs.left_value, phone_pairs.right_hash, count(*) as right_epoch
    from phone_pairs
    inner join phone_releases
        on phone_pairs.right_hash = phone_releases.phone_hash
        and phone_releases.released_on <= cast(phone_pairs.first_seen_at as date)
    group by phone_pairs.left_type, phone_pairs.left_value, phone_pairs.right_hash
),

sightings_in_epochs as (
    select
        sightings.*,
        cast(coalesce(phone_pair_epochs.right_epoch, 0) as integer) as right_epoch
    from sightings
    left join phone_pair_epochs
        on sightings.right_type = 'phone'
        and sightings.left_type = phone_pair_epochs.left_type
        and coalesce(sightings.left_value, '') = coalesce(phone_pair_epochs.left_value, '')
        and sightings.right_hash = phone_pair_epochs.right_hash
),

final as (
    select
        left_type,
        case when left_value is not null then {{ identity_hash('left_type', 'left_value') }} end as left_hash,
        left_value is null or is_left_junk as is_left_junk,
        right_type,
        right_hash,
        right_hash is null or is_right_junk as is_right_junk,
        right_epoch,
        is_right_superseded,
        seen_in,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(sightings) as bigint) as sightings
    from sightings_in_epochs
    where left_value is not null or right_hash is not null
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9
)

select * from final
