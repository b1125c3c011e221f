{{ config(materialized='table') }}
-- Each person's CRM customer record as of the as-of date (a person under several customer numbers keeps
-- the earliest-seen one, the suggested survivor in crm_duplicates).
with

customers as (
    select * from {{ ref('int_customers_as_of') }}
),

customer_persons as (
    select person_id, identifier_hash, first_seen_at
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'customer_no'
),

ranked as (
    select
        customer_persons.person_id,
        customers.*,
        row_number() over (
            partition by customer_persons.person_id
            order by customer_persons.first_seen_at, customers.customer_no
        ) as customer_rank
    from customers
    inner join customer_persons
        on {{ identity_hash("'customer_no'", 'customers.customer_no') }} = customer_persons.identifier_hash
),

final as (
    select * from ranked where customer_rank = 1
)

select * from final
