{{ config(pre_hook="{% do fundcdp.churn_snapshots_restatement(apply=true) %}", **fundcdp.churn_snapshots_config()) }}
-- Churn model features and label per person and snapshot date (grain: person_id, snapshot_date). The
-- snapshots are the Sundays of the last models.churn.snapshot_weeks weeks up to the as-of date, plus the
-- as-of date itself (the one scored). A row exists for each person active on the snapshot date: a contact
-- (an event or a confirmed purchase) within tags.dormant_after_days, i.e. not dormant or churned.
-- Point in time: a feature as of D reads only activity on or before D that was known by D (arrival day,
-- see int_login_activity_known and int_purchases_known), so data arriving later never changes it.
-- The label `became_dormant`: no contact in the tags.dormant_after_days days ending models.churn.
-- horizon_days after D (the person is dormant or churned then); null while that day is after the as-of
-- date. `has_full_history`: the snapshot is at least models.churn.lookback_days after the first day of
-- tracking data, so no feature window reaches back before the data begins (the model trains on these).
-- Persons are today's (identity as of the build), for features and label alike.
-- Incremental on DuckDB (macro churn_snapshots_restatement): a daily build rewrites the snapshot days that
-- are new, no longer scored or newly labelled for every person, and every day of the persons whose inputs
-- (activity, purchases, identity) changed; the other rows cannot change.
{%- set churn = var('fundcdp')['models']['churn'] %}
{%- set dormant_days = var('fundcdp')['tags']['dormant_after_days'] %}
{%- set horizon = churn['horizon_days'] %}
{%- set as_of_day = modules.datetime.date.fromisoformat(var('as_of_date')) %}
{%- set restate = fundcdp.churn_snapshots_restatement() %}
{%- set as_of_date = "cast('" ~ as_of_day ~ "' as date)" %}
{#- the days rebuilt for every person, and (incremental) the other days, for the restated persons only -#}
{%- set parts = [('snapshots', restate['days'], 'activity', 'purchases')] %}
{%- if not restate['full'] %}
    {%- set changed_days = fundcdp.churn_snapshot_days(as_of_day) | reject('in', restate['days']) | list %}
    {%- do parts.append(('restated_snapshots', changed_days, 'restated_activity', 'restated_purchases')) %}
{%- endif %}

with

{%- for name, days, _, _ in parts %}
{{ name }} as (
    {%- for day in days %}
    select cast('{{ day }}' as date) as snapshot_date
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select cast(null as date) as snapshot_date where false
    {%- endfor %}
),

{% endfor -%}
login_persons as (
    select identifier_hash, person_id
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'login_id'
),

activity as (
    select login_persons.person_id, known.activity_date, known.known_date, known.events
    from {{ ref('int_login_activity_known') }} as known
    inner join login_persons on known.login_key = login_persons.identifier_hash
),

purchases as (
    select person_id, confirm_date, known_date
    from {{ ref('int_purchases_known') }}
),

{%- if not restate['full'] %}
restated_activity as (
    select activity.*
    from activity
    inner join {{ restate['scratch'] }} as restated on activity.person_id = restated.person_id
),

restated_purchases as (
    select purchases.*
    from purchases
    inner join {{ restate['scratch'] }} as restated on purchases.person_id = restated.person_id
),

{% endif -%}
data_start as (
    select min(activity_date) as first_activity_date from activity
),

-- what each snapshot knew: activity days of the models.churn.lookback_days days up to it
snapshot_activity as (
    {%- for snapshots, _, activity, _ in parts %}
    select snapshots.snapshot_date, activity.person_id, activity.activity_date, sum(activity.events) as events
    from {{ snapshots }} as snapshots
    inner join {{ activity }} as activity
        on activity.known_date <= snapshots.snapshot_date
        and activity.activity_date <= snapshots.snapshot_date
        and activity.activity_date > {{ days_before('snapshots.snapshot_date', churn['lookback_days']) }}
    group by snapshots.snapshot_date, activity.person_id, activity.activity_date
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

snapshot_purchases as (
    {%- for snapshots, _, _, purchases in parts %}
    select snapshots.snapshot_date, purchases.person_id, purchases.confirm_date
    from {{ snapshots }} as snapshots
    inner join {{ purchases }} as purchases
        on purchases.known_date <= snapshots.snapshot_date
        and purchases.confirm_date <= snapshots.snapshot_date
        and purchases.confirm_date > {{ days_before('snapshots.snapshot_date', churn['lookback_days']) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

last_contacts as (
    select snapshot_date, person_id, max(contact_date) as last_contact_date
    from (
        select snapshot_date, person_id, activity_date as contact_date from snapshot_activity
        union all
        select snapshot_date, person_id, confirm_date as contact_date from snapshot_purchases
    ) as contacts
    group by snapshot_date, person_id
),

eligible as (
    select
        snapshot_date,
        person_id,
        {{ days_between('last_contact_date', 'snapshot_date') }} as days_since_last_activity
    from last_contacts
    where {{ days_between('last_contact_date', 'snapshot_date') }} < {{ dormant_days }}
),

activity_features as (
    select
        snapshot_date,
        person_id,
        count(case when activity_date > {{ days_before('snapshot_date', 7) }} then 1 end) as active_days_7d,
        count(case when activity_date > {{ days_before('snapshot_date', 30) }} then 1 end) as active_days_30d,
        count(case
            when activity_date > {{ days_before('snapshot_date', 60) }}
                and activity_date <= {{ days_before('snapshot_date', 30) }}
                then 1
        end) as active_days_prior_30d,
        sum(case when activity_date > {{ days_before('snapshot_date', 7) }} then events else 0 end) as events_7d,
        sum(case when activity_date > {{ days_before('snapshot_date', 30) }} then events else 0 end) as events_30d
    from snapshot_activity
    group by snapshot_date, person_id
),

purchase_features as (
    select
        snapshot_date,
        person_id,
        count(case when confirm_date > {{ days_before('snapshot_date', 30) }} then 1 end) as purchases_30d,
        count(*) as purchases_60d
    from snapshot_purchases
    group by snapshot_date, person_id
),

-- the label, from every contact known by the build
later_contacts as (
    select person_id, activity_date as contact_date from activity
    union all
    select person_id, confirm_date as contact_date from purchases
),

labels as (
    select
        eligible.snapshot_date,
        eligible.person_id,
        count(later_contacts.contact_date) = 0 as became_dormant
    from eligible
    left join later_contacts
        on eligible.person_id = later_contacts.person_id
        and later_contacts.contact_date > {{ days_after('eligible.snapshot_date', horizon - dormant_days) }}
        and later_contacts.contact_date <= {{ days_after('eligible.snapshot_date', horizon) }}
    where {{ days_after('eligible.snapshot_date', horizon) }} <= {{ as_of_date }}
    group by eligible.snapshot_date, eligible.person_id
),

final as (
    select
        eligible.person_id,
        cast(eligible.days_since_last_activity as bigint) as days_since_last_activity,
        cast(coalesce(activity_features.active_days_7d, 0) as bigint) as active_days_7d,
        cast(coalesce(activity_features.active_days_30d, 0) as bigint) as active_days_30d,
        cast(coalesce(activity_features.active_days_prior_30d, 0) as bigint) as active_days_prior_30d,
        cast(coalesce(activity_features.events_7d, 0) as bigint) as events_7d,
        cast(coalesce(activity_features.events_30d, 0) as bigint) as events_30d,
        cast(coalesce(purchase_features.purchases_30d, 0) as bigint) as purchases_30d,
        cast(coalesce(purchase_features.purchases_60d, 0) as bigint) as purchases_60d,
        labels.became_dormant,
        {{ days_between('data_start.first_activity_date', 'eligible.snapshot_date') }}
            >= {{ churn['lookback_days'] }} as has_full_history,
        eligible.snapshot_date = {{ as_of_date }} as is_scoring_snapshot,
        eligible.snapshot_date,
        cast('{{ as_of_day }}' as date) as built_as_of_date
    from eligible
    left join activity_features
        on eligible.snapshot_date = activity_features.snapshot_date
        and eligible.person_id = activity_features.person_id
    left join purchase_features
        on eligible.snapshot_date = purchase_features.snapshot_date
        and eligible.person_id = purchase_features.person_id
    left join labels
        on eligible.snapshot_date = labels.snapshot_date
        and eligible.person_id = labels.person_id
    cross join data_start
)

select * from final
