-- One row per catalogued tag: the share of persons with a value and the floor it must reach. Tags
-- every person has by construction have floor 1; CRM-based tags only for persons known to the CRM
-- (app-only visitors have none), so their floors are lower. Unlisted tags: floor 0.
with floors (tag_code, coverage_floor) as (
    values
        ('lifecycle_stage', 1.0), ('has_churn_warning', 1.0), ('rfm_group', 1.0), ('value_tier', 1.0),
        ('aum_cny', 1.0), ('is_high_net_worth', 1.0), ('registration_channel', 1.0),
        ('active_days_30d', 1.0), ('registration_date', 0.9), ('main_platform', 0.5),
        ('gender', 0.5), ('age', 0.5), ('province', 0.5), ('kyc_status', 0.5), ('risk_level', 0.4)
)
select
    coverage.tag_code,
    coverage.tag_table,
    coverage.coverage_share,
    coalesce(floors.coverage_floor, 0.0) as coverage_floor,
    coverage.persons_with_value,
    coverage.persons
from main_marts.tag_coverage as coverage
left join floors on floors.tag_code = coverage.tag_code
order by coverage.tag_code
