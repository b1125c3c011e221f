"""The masked call-centre contact list (issue 11): built from private.duckdb, masked, never published."""

import duckdb
import pytest

from tests.conftest import CANARY

pytestmark = pytest.mark.integration

CONTACT_LIST = "main_restricted.contact_list_masked"


def test_the_canary_is_listed_masked_under_its_person(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    try:
        (person_id,) = con.execute(
            "select person_id from main_intermediate.int_person_primary_customers where customer_no = ?",
            [CANARY["customer_no"]],
        ).fetchone()
        rows = con.execute(
            "select person_id, customer_no, name_masked, phone_masked, id_number_masked, email_masked, "
            "is_sms_consented, is_phone_consented, is_app_push_consented, is_wechat_consented "
            f"from {CONTACT_LIST} where customer_no = ?",
            [CANARY["customer_no"]],
        ).fetchall()
    finally:
        con.close()
    # The canary has no consent records: no record means no consent.
    assert rows == [
        (
            person_id,
            "C99999999",
            "金****",
            "139****5678",
            "110105***********X",
            "c***@example-canary.cn",
            False,
            False,
            False,
            False,
        )
    ]


def test_one_row_per_person_with_a_crm_customer_and_only_mask_shapes(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    try:
        (persons,) = con.execute(
            "select count(*) from main_intermediate.int_person_primary_customers"
        ).fetchone()
        listed, phones, bad_phones, bad_ids, bad_emails, consented = con.execute(
            "select count(*), count(phone_masked), "
            r"count(*) filter (where not regexp_full_match(phone_masked, '[0-9]{3}\*{4}[0-9]{4}|\*{4}')), "
            r"count(*) filter (where not regexp_full_match(id_number_masked, '[0-9]{6}\*{11}[0-9X]|\*{4}')), "
            r"count(*) filter (where not regexp_full_match(email_masked, '[^@]\*{3}@[^@]+|\*{4}')), "
            f"count(*) filter (where is_phone_consented) from {CONTACT_LIST}"
        ).fetchone()
    finally:
        con.close()
    assert persons > 200
    assert listed == persons
    assert phones == persons  # every demo customer has a mobile: the private store was joined
    assert (bad_phones, bad_ids, bad_emails) == (0, 0, 0)
    assert 0 < consented < persons


def test_the_contact_list_is_not_published_to_analysts(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.analytics_db), read_only=True)
    try:
        published = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_name = 'contact_list_masked' or table_schema like '%restricted%'"
        ).fetchall()
        (tables,) = con.execute("select count(*) from information_schema.tables").fetchone()
    finally:
        con.close()
    assert tables > 20  # the file was published
    assert published == []
