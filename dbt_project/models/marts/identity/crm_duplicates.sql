-- For the CRM's data stewards: one person under several customer numbers (merged by ID-Mapping).
with

resolved as (
    select * from {{ ref('int_identity_persons') }}
),

customers as (
    select distinct customer_no from {{ ref('stg_crm__customers') }}
),

customer_hashes as (
    select customer_no, {{ sha256_hex("'customer_no:' || customer_no") }} as identifier_hash
    from customers
),

person_customers as (
    select resolved.person_id, customer_hashes.customer_no, resolved.first_seen_at
    from resolved
    inner join customer_hashes on resolved.identifier_hash = customer_hashes.identifier_hash
    where resolved.identifier_type = 'customer_no'
),

shared as (
    select person_id, {{ distinct_list('identifier_type') }} as shared_identifier_types
    from resolved
    where identifier_type in ('id_number', 'phone', 'email')
    group by person_id
),

final as (
    select
        person_customers.person_id,
        person_customers.customer_no,
        count(*) over (partition by person_customers.person_id) as customer_numbers_of_person,
        row_number() over (
            partition by person_customers.person_id
            order by person_customers.first_seen_at, person_customers.customer_no
        ) = 1 as is_surviving_record,
        shared.shared_identifier_types
    from person_customers
    left join shared on person_customers.person_id = shared.person_id
)

select * from final
where customer_numbers_of_person > 1
