{{ config(materialized='incremental', on_schema_change='fail', **fundcdp.incremental_by_date_config('as_of_date')) }}
-- Merges and splits of persons since the previous run: old id, new id, reason, as-of date.
with

history as (
    select * from {{ ref('identity_map_history') }}
),

current_map as (
    select * from history where as_of_date = cast('{{ var("as_of_date") }}' as date)
),

previous_map as (
    select history.*
    from history
    inner join (
        select max(as_of_date) as as_of_date from history
        where as_of_date < cast('{{ var("as_of_date") }}' as date)
    ) as previous_run on history.as_of_date = previous_run.as_of_date
),

moves as (
    select distinct previous_map.person_id as old_person_id, current_map.person_id as new_person_id
    from previous_map
    inner join current_map
        on previous_map.identifier_type = current_map.identifier_type
        and previous_map.identifier_hash = current_map.identifier_hash
),

fan_out as (
    select old_person_id, count(*) as new_ids from moves group by old_person_id
),

final as (
    select
        moves.old_person_id,
        moves.new_person_id,
        case when fan_out.new_ids > 1 then 'split' else 'merged' end as change_reason,
        cast('{{ var("as_of_date") }}' as date) as as_of_date
    from moves
    inner join fan_out on moves.old_person_id = fan_out.old_person_id
    where moves.old_person_id <> moves.new_person_id
)

select * from final
