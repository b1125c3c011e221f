{#- DuckDB only: the clear values live in private.duckdb, which has no Spark equivalent (raw/ holds hashes
    only). The store is attached read-only for this model and detached after it, outside the model's
    transaction, so the build holds private.duckdb no longer than it needs to. -#}
{{
    config(
        enabled=target.type == 'duckdb',
        materialized='table',
        pre_hook=before_begin("{{ fundcdp.attach_private_store() }}"),
        post_hook=after_commit("detach database if exists private"),
    )
}}
{#- A warehouse rebuilt from raw/ alone has no private store: the list is then built empty (not with
    empty contact columns), with a warning, and everything else still builds. -#}
{%- set has_private_store = fundcdp.private_store_exists() %}
{%- if not has_private_store %}
{%- do exceptions.warn("contact_list_masked: no " ~ fundcdp.private_store_path() ~ ", the list is built empty") %}
{%- endif %}

-- The call-centre contact list: each person's primary CRM customer with display masks of their name,
-- mobile, ID number and e-mail, and their marketing consent per channel, as of the as-of date.
with

primary_customers as (
    select person_id, customer_no
    from {{ ref('int_person_primary_customers') }}
),

customers as (
    select customer_no, source_file, source_line
    from {{ ref('int_customers_as_of') }}
),

private_customers as (
    {%- if has_private_store %}
    select _source_file, _source_line, name, phone, id_number, email
    from {{ source('private', 'pii_crm__customers') }}
    {%- else %}
    select
        cast(null as varchar) as _source_file,
        cast(null as bigint) as _source_line,
        cast(null as varchar) as name,
        cast(null as varchar) as phone,
        cast(null as varchar) as id_number,
        cast(null as varchar) as email
    where false
    {%- endif %}
),

consents as (
    {{ consents_by_channel() }}
),

final as (
    select
        primary_customers.person_id,
        primary_customers.customer_no,
        {{ mask_name('private_customers.name') }} as name_masked,
        {{ mask_phone('private_customers.phone') }} as phone_masked,
        {{ mask_id_number('private_customers.id_number') }} as id_number_masked,
        {{ mask_email('private_customers.email') }} as email_masked,
        {{- consented_columns('consents') }}
    from primary_customers
    -- The version of the customer valid on the as-of date, and that version's clear values (the private
    -- store is keyed by the delivered file and line, like the raw row).
    inner join customers
        on customers.customer_no = primary_customers.customer_no
    left join private_customers
        on private_customers._source_file = customers.source_file
        and private_customers._source_line = customers.source_line
    left join consents
        on consents.person_id = primary_customers.person_id
    {%- if not has_private_store %}
    where false
    {%- endif %}
)

select * from final
