-- The one CRM customer number exports carry per person: when CRM duplicates were merged, the most
-- recently updated record valid on the as-of date (ties: the lower customer number).
with

customer_numbers as (
    select person_id, identifier_hash
    from {{ ref('int_identity_persons') }}
    where identifier_type = 'customer_no'
),

customers as (
    select customer_no, updated_at
    from {{ ref('int_customers_as_of') }}
),

ranked as (
    select
        customer_numbers.person_id,
        customers.customer_no,
        row_number() over (
            partition by customer_numbers.person_id order by customers.updated_at desc, customers.customer_no
        ) as recency_rank
    from customers
    inner join customer_numbers
        on {{ identity_hash("'customer_no'", 'customers.customer_no') }} = customer_numbers.identifier_hash
),

final as (
    select person_id, customer_no
    from ranked
    where recency_rank = 1
)

select * from final
