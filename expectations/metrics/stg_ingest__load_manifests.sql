-- One row per file delivered on the partition date: quarantine share (files with more than 10
-- quarantined lines), line balance
-- (read = loaded + quarantined), and loaded rows against the rows staging holds for the file.
with files as (
    select * from stg_ingest__load_manifests
    where arrival_date = cast($as_of_date as date) and load_status in ('loaded', 'corrected', 'redacted')
),
staged as (
    select source_file, count(*) as staged_rows from (
        select source_file from stg_tracking__events where arrival_date = cast($as_of_date as date)
        union all select source_file from stg_trade__trade_orders where arrival_date = cast($as_of_date as date)
        union all select source_file from stg_trade__holdings where arrival_date = cast($as_of_date as date)
        union all select source_file from stg_trade__navs where arrival_date = cast($as_of_date as date)
        union all select source_file from stg_trade__fund_products where arrival_date = cast($as_of_date as date)
        union all select source_file from stg_trade__fund_accounts where arrival_date = cast($as_of_date as date)
        union all select source_file from stg_trade__sip_agreements where arrival_date = cast($as_of_date as date)
        union all select source_file from int_crm__customer_history where arrival_date = cast($as_of_date as date)
        union all select source_file from int_crm__bank_card_history where arrival_date = cast($as_of_date as date)
        union all select source_file from int_crm__marketing_consent_history where arrival_date = cast($as_of_date as date)
    ) group by source_file
)
select
    files.source_system || '.' || files.table_name as source_table,
    files.file_name,
    files.lines_read,
    files.rows_loaded,
    files.rows_quarantined,
    -- judged on files quarantining more than 10 lines: a handful of bad lines in a small daily delta is
    -- noise (ingestion judges small files by count the same way and refuses a file above 5 %)
    case
        when files.rows_quarantined <= 10 or files.lines_read = 0 then 0.0
        else files.rows_quarantined * 1.0 / files.lines_read
    end as quarantine_share,
    files.lines_read - files.rows_loaded - files.rows_quarantined as unbalanced_lines,
    coalesce(staged.staged_rows, 0) - files.rows_loaded as staged_minus_loaded_rows
from files
left join staged on staged.source_file = files.file_name
order by 1, 2
