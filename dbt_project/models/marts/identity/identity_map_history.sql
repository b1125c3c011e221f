{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail') }}
-- Each run's identifier -> person mapping, kept per as-of date so that changes between runs are visible.
with

resolved as (
    select * from {{ ref('int_identity_persons') }}
),

final as (
    select
        cast('{{ var("as_of_date") }}' as date) as as_of_date,
        identifier_type,
        identifier_hash,
        person_id
    from resolved
)

select * from final
