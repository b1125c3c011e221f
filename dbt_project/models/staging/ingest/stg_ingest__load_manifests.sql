with

source as (
    select * from {{ source('ingest', 'load_manifest') }}
),

final as (
    select
        source as source_system,
        table_name,
        file_name,
        cast(arrival_date as date) as arrival_date,
        file_size_bytes,
        content_sha256,
        lines_read,
        rows_loaded,
        rows_quarantined,
        amount_loaded as amount_loaded_cny,
        status as load_status,
        duplicate_of,
        replaced_sha256,
        ignored_columns,
        free_text_redactions,
        invisible_characters_stripped,
        cast(loaded_at as timestamp) as loaded_at
    from source
)

select * from final
