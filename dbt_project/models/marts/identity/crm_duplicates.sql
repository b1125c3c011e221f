-- For the CRM's data stewards: one person under several customer numbers (merged by ID-Mapping), and
-- per customer number the types of the identifiers it really shares with another customer number of
-- the same person: a value linked to both records by links ID-Mapping kept (a split-dropped link
-- shares nothing). Null when the records are joined only through a chain (a login used with one
-- record's phone and the other's customer number).
with

resolved as (
    select * from {{ ref('int_identity_persons') }}
),

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
),

links as (
    select * from {{ ref('int_identity_links') }}
),

split_links as (
    select * from {{ ref('int_identity_split_links') }}
),

customers as (
    select distinct customer_no from {{ ref('stg_crm__customers') }}
),

customer_hashes as (
    select customer_no, {{ identity_hash("'customer_no'", 'customer_no') }} as identifier_hash
    from customers
),

person_customers as (
    select resolved.person_id, customer_hashes.customer_no, resolved.node_id, resolved.first_seen_at
    from resolved
    inner join customer_hashes on resolved.identifier_hash = customer_hashes.identifier_hash
    where resolved.identifier_type = 'customer_no'
),

duplicated_customers as (
    select
        person_customers.*,
        count(*) over (partition by person_customers.person_id) as customer_numbers_of_person
    from person_customers
),

kept_links as (
    select links.node_a, links.node_b
    from links
    left join split_links on links.node_a = split_links.node_a and links.node_b = split_links.node_b
    where split_links.node_a is null
),

-- Each identifier linked to a duplicated customer number.
customer_neighbours as (
    select duplicated_customers.person_id, duplicated_customers.customer_no, kept_links.node_b as neighbour_node_id
    from duplicated_customers
    inner join kept_links on duplicated_customers.node_id = kept_links.node_a
    where duplicated_customers.customer_numbers_of_person > 1
    union all
    select duplicated_customers.person_id, duplicated_customers.customer_no, kept_links.node_a
    from duplicated_customers
    inner join kept_links on duplicated_customers.node_id = kept_links.node_b
    where duplicated_customers.customer_numbers_of_person > 1
),

shared as (
    select
        customer_neighbours.customer_no,
        {{ distinct_list('identifiers.identifier_type') }} as shared_identifier_types
    from customer_neighbours
    inner join customer_neighbours as other_customer
        on customer_neighbours.person_id = other_customer.person_id
        and customer_neighbours.neighbour_node_id = other_customer.neighbour_node_id
        and customer_neighbours.customer_no <> other_customer.customer_no
    inner join identifiers on customer_neighbours.neighbour_node_id = identifiers.node_id
    group by customer_neighbours.customer_no
),

final as (
    select
        duplicated_customers.person_id,
        duplicated_customers.customer_no,
        duplicated_customers.customer_numbers_of_person,
        row_number() over (
            partition by duplicated_customers.person_id
            order by duplicated_customers.first_seen_at, duplicated_customers.customer_no
        ) = 1 as is_surviving_record,
        shared.shared_identifier_types
    from duplicated_customers
    left join shared on duplicated_customers.customer_no = shared.customer_no
    where duplicated_customers.customer_numbers_of_person > 1
)

select * from final
