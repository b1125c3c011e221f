"""Normalisation and validation of personal identifiers on tricky cases."""

from datetime import date

import pytest

from orchestration.lib import pii
from orchestration.lib.rules import JunkRules, load_business_rules


@pytest.mark.parametrize(
    ("delivered", "normalised", "valid"),
    [
        ("13800138000", "13800138000", True),
        ("+86 138 0013 8000", "13800138000", True),
        ("+86-138-0013-8000", "13800138000", True),
        ("0086 13800138000", "13800138000", True),
        ("8613800138000", "13800138000", True),
        ("１３８００１３８０００", "13800138000", True),  # full-width digits
        ("＋８６ １３９ １２３４ ５６７８", "13912345678", True),
        (" 139 1234 5678 ", "13912345678", True),
        ("12800138000", "12800138000", False),  # no mobile prefix 12x
        ("1380013800", "1380013800", False),  # 10 digits
        ("861380013800", "861380013800", False),  # 12 digits: not a +86 number
        ("tel:", None, False),
        ("", None, False),
        (None, None, False),
    ],
)
def test_phone_normalisation(delivered, normalised, valid):
    assert pii.normalise_phone(delivered) == normalised
    assert pii.is_valid_mobile(normalised) is valid


@pytest.mark.parametrize(
    ("delivered", "normalised", "valid"),
    [
        ("11010519491231002X", "11010519491231002X", True),
        ("11010519491231002x", "11010519491231002X", True),  # lower-case check character
        ("110105 19491231 002X", "11010519491231002X", True),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", True),  # full width
        ("440524188001010014", "440524188001010014", True),
        ("110105194912310021", "110105194912310021", False),  # wrong check digit
        ("110105194902300025", "110105194902300025", False),  # 30 February
        ("990105194912310025", "990105194912310025", False),  # no province 99
        ("11010519491231002", "11010519491231002", False),  # 17 characters
        ("000000000000000000", "000000000000000000", False),
        ("1101051949123100XX", "1101051949123100XX", False),
    ],
)
def test_id_number_validation(delivered, normalised, valid):
    assert pii.normalise_id_number(delivered) == normalised
    assert pii.is_valid_id_number(normalised) is valid


def test_check_character_of_the_standard_example():
    # GB 11643-1999's worked example: weights sum to 167, 167 mod 11 = 2 -> 'X'.
    assert pii.id_check_char("11010519491231002") == "X"
    assert pii.id_check_char("44052418800101001") == "4"


def test_facts_derived_from_an_id_number():
    assert pii.id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert pii.id_gender("11010519491231002X") == "F"  # 17th digit 2 is even
    assert pii.id_gender("440524188001010014") == "M"  # 17th digit 1 is odd


@pytest.mark.parametrize(
    ("card", "valid"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1112", False),
        ("6222021234567890128", True),
        ("12345", False),
    ],
)
def test_card_numbers(card, valid):
    assert pii.is_valid_card_number(pii.normalise_card_number(card)) is valid


def test_emails():
    assert pii.normalise_email("  Zhang.San@QQ.com ") == "zhang.san@qq.com"
    assert pii.is_valid_email("zhang.san@qq.com")
    assert not pii.is_valid_email("zhang.san@qq")
    assert not pii.is_valid_email("null")


def test_keyed_hash_depends_on_the_key():
    first = pii.keyed_hash(b"key-one", "13800138000")
    assert first == pii.keyed_hash(b"key-one", "13800138000")
    assert first != pii.keyed_hash(b"key-two", "13800138000")
    assert len(first) == 64
    assert pii.keyed_hash(b"key-one", None) is None


@pytest.mark.parametrize(
    ("value", "junk"),
    [
        ("null", True),
        ("NULL", True),
        ("undefined", True),
        ("0", True),
        ("-1", True),
        ("00000000000", True),
        ("11111111111", True),
        ("888888888888888888", True),
        ("13800138000", True),  # configured test number
        ("", True),
        ("13912345678", False),
        ("U00012345", False),
        ("11010519491231002X", False),
    ],
)
def test_junk_identifier_rules_from_dbt_project(value, junk):
    rules = JunkRules.from_rules(load_business_rules())
    assert rules.is_junk(value) is junk
