{{ config(materialized='incremental', on_schema_change='fail', **fundcdp.incremental_by_date_config('as_of_date')) }}
-- Each run's identifier -> person mapping, kept per as-of date so that changes between runs are visible.
with

resolved as (
    select * from {{ ref('int_identity_persons') }}
),

final as (
    select
        identifier_type,
        identifier_hash,
        person_id,
        cast('{{ var("as_of_date") }}' as date) as as_of_date
    from resolved
)

select * from final
