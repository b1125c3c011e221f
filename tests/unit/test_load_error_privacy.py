"""A file's error message quotes no delivered data: a headerless CRM file's first line (a customer's name,
ID number, phone and e-mail) is never echoed into the error, hence never into an alert."""

from __future__ import annotations

import pytest

from orchestration.defs.ingest.loader import LoadError, parse_file, read_file
from orchestration.lib.sources import TABLES_BY_KEY

CUSTOMERS = TABLES_BY_KEY[("crm", "customers")]
EXPECTED_HEADER = (
    "customer_no,name,gender,birth_date,id_type,id_number,mobile,email,province,city,risk_level,"
    "risk_assessed_date,kyc_status,open_date,open_channel,updated_at"
)
# Two customers and no header line; 16 fields each, like the header would have.
FIRST = (
    "C312004407,张三,M,1980-01-01,01,110101198001011234,13800138000,zs@example.com,北京,北京,R3,"
    "2026-01-05,passed,2019-03-02,app,2026-07-01 08:00:00"
)
SECOND = (
    "C312004408,李四,F,1985-02-03,01,110101198502031238,13900139000,ls@example.com,上海,上海,R2,"
    "2026-01-06,passed,2020-04-02,web,2026-07-01 08:00:00"
)


def _failure(tmp_path, text: str) -> str:
    path = tmp_path / "customers_20260701.csv"
    path.write_text(text, encoding=CUSTOMERS.encoding)
    with pytest.raises(LoadError) as failure:
        parse_file(read_file(path, CUSTOMERS), CUSTOMERS, path.name)
    return str(failure.value)


def test_a_headerless_customers_file_fails_without_quoting_its_first_line(tmp_path):
    message = _failure(tmp_path, FIRST + "\n" + SECOND + "\n")
    assert message == (
        f"{tmp_path}/customers_20260701.csv: the first line is not a header (16 fields); "
        f"expected the header {EXPECTED_HEADER}"
    )
    for value in FIRST.split(","):
        if value not in ("M", "01", "R3", "app"):  # short codes that the expected header happens to hold
            assert value not in message


def test_a_header_of_column_names_missing_one_is_still_listed(tmp_path):
    # a renamed column (customer_id for customer_no): every name looks like one, so the header is quoted
    header = EXPECTED_HEADER.replace("customer_no", "customer_id")
    message = _failure(tmp_path, header + "\n" + FIRST + "\n")
    assert message == (
        f"{tmp_path}/customers_20260701.csv: missing column(s) customer_no "
        f"(header has: {header.replace(',', ', ')})"
    )


def test_one_name_unlike_a_column_name_makes_it_not_a_header(tmp_path):
    # a header whose renamed column holds a value (an e-mail address) is not quoted either
    header = EXPECTED_HEADER.replace("email", "zs@example.com")
    message = _failure(tmp_path, header + "\n" + FIRST + "\n")
    assert message.endswith(
        "the first line is not a header (16 fields); expected the header " + EXPECTED_HEADER
    )
    assert "zs@example.com" not in message
