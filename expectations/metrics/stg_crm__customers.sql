-- Customers delivered on the partition date (new and changed records): validity flags and value sets
-- only, never the personal values themselves.
select
    case when is_id_number_valid then 1 else 0 end as id_number_valid,
    case when is_phone_valid then 1 else 0 end as phone_valid,
    risk_level,
    kyc_status,
    gender
from int_crm__customer_history
where arrival_date = cast($as_of_date as date)
