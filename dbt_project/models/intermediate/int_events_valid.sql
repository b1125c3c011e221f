{{ config(materialized='view') }}
-- A view: a filter of the staged events table. Writing a second copy of every event cost 23 s of dbt
-- node time at SF1; its readers scan the staged table with the filter instead.
-- The one place where flagged events are removed: everything downstream counts only these.
with

events as (
    -- every staged column but staged_as_of_date, the staging table's own bookkeeping
    select {{ fundcdp.columns_except(ref('stg_tracking__events'), ['staged_as_of_date']) }}
    from {{ ref('stg_tracking__events') }}
),

final as (
    select *
    from events
    where exclusion_reason is null
)

select * from final
