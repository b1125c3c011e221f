-- One row per catalogued tag: the share of persons with a value and the floor it must reach (floors:
-- vars fundcdp quality tag_coverage floors, bound as $quality_floor_tags / $quality_floor_values;
-- unlisted tags: 0). A tag is judged only when the company has every source table it is built from
-- (tag_catalog.source_tables): with $quality_sources empty ("auto"), a table the load manifests show
-- rows loaded for up to the as-of date (header-only files every day: a source the company does not use,
-- e.g. no SIP plans or no holdings export); otherwise a table whose system or system.table is listed. A
-- tag not judged has floor 0 and persons_with_value null; missing_sources names what it lacks.
with floors as (
    select
        unnest(cast($quality_floor_tags as varchar[])) as tag_code,
        unnest(cast($quality_floor_values as double[])) as coverage_floor
),
delivered as (
    select distinct source_system || '.' || table_name as source_table
    from stg_ingest__load_manifests
    where arrival_date <= cast($as_of_date as date)
    group by source_system, table_name
    having sum(rows_loaded) > 0
),
tag_sources as (
    -- only system.table entries are sources (model tags name intermediate models)
    select catalog.tag_code, source.source_table
    from tag_catalog as catalog,
        unnest(string_split(catalog.source_tables, '|')) as source(source_table)
    where source.source_table like '%.%'
),
missing as (
    select tag_sources.tag_code, string_agg(tag_sources.source_table, '|' order by tag_sources.source_table) as missing_sources
    from tag_sources
    where not (
        case
            when len(cast($quality_sources as varchar[])) = 0
                then tag_sources.source_table in (select source_table from delivered)
            else list_contains(cast($quality_sources as varchar[]), tag_sources.source_table)
                or list_contains(cast($quality_sources as varchar[]), split_part(tag_sources.source_table, '.', 1))
        end
    )
    group by all
)
select
    coverage.tag_code,
    coverage.tag_table,
    coverage.coverage_share,
    case when missing.tag_code is null then coalesce(floors.coverage_floor, 0.0) else 0.0 end as coverage_floor,
    case when missing.tag_code is null then coverage.persons_with_value end as persons_with_value,
    coverage.persons,
    missing.missing_sources
from tag_coverage as coverage
left join floors on floors.tag_code = coverage.tag_code
left join missing on missing.tag_code = coverage.tag_code
order by coverage.tag_code
