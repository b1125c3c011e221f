-- Empty input of the macro-check models; their dbt unit tests give the rows. The models exist so that
-- every engine-specific macro is unit-tested with identical expected rows on DuckDB and on Spark.
select
    cast(null as {{ dbt.type_string() }}) as text_value,
    cast(null as bigint) as number_value,
    cast(null as bigint) as group_number
where 1 = 0
