"""The data map is the one declaration everything derives from: its invariants are checked here."""

from __future__ import annotations

import pytest

from custody.declared import datamap
from custody.declared.datamap import BucketStore, Classification, Erasure, Sensitivity, TableStore

ISSUE_CATEGORIES = {
    "identity",
    "contact",
    "preferences",
    "payment",
    "health",
    "interactions",
    "documents",
    "consents",
    "staff_access",
    "disclosures",
}


def test_every_category_the_design_names_is_declared() -> None:
    assert {category.name for category in datamap.CATEGORIES} >= ISSUE_CATEGORIES


def test_names_are_unique() -> None:
    stores = [store.name for store in datamap.STORES]
    categories = [category.name for category in datamap.CATEGORIES]
    assert len(stores) == len(set(stores))
    assert len(categories) == len(set(categories))
    assert not set(stores) & set(datamap.OPERATIONAL_TABLES)


def test_every_category_lives_in_a_declared_personal_store() -> None:
    for category in datamap.CATEGORIES:
        store = datamap.store(category.store)
        assert store.classification is Classification.PERSONAL, category.name


def test_every_personal_store_holds_at_least_one_category() -> None:
    for store in datamap.STORES:
        if store.classification is Classification.PERSONAL:
            assert datamap.categories_in(store.name), store.name


def test_every_purpose_bound_category_names_known_purposes() -> None:
    for category in datamap.CATEGORIES:
        if category.processing_record:
            assert category.purposes == ()
        else:
            assert category.purposes, category.name
            assert set(category.purposes) <= set(datamap.PURPOSES)


def test_tables_are_partitioned_by_subject_so_one_customer_costs_one_query() -> None:
    for store in datamap.table_stores():
        assert store.partition_key == "subject_id"
        assert store.sort_key
        assert store.sort_key != store.partition_key


def test_the_key_store_is_shredded_not_erased_item_by_item() -> None:
    keys = datamap.store("subject_keys")
    assert isinstance(keys, TableStore)
    assert keys.erasure is Erasure.SHRED
    assert keys.classification is Classification.KEY_MATERIAL
    assert keys not in datamap.erasable_stores()
    assert set(datamap.erasable_stores()) == {s for s in datamap.STORES if s is not keys}


def test_bucket_prefix_is_per_subject_and_cannot_collide() -> None:
    assert BucketStore.prefix("abc") == "subjects/abc/"
    assert not BucketStore.prefix("abc").startswith(BucketStore.prefix("ab"))


def test_health_needs_its_explicit_purpose_and_is_special() -> None:
    health = datamap.category("health")
    assert health.sensitivity is Sensitivity.SPECIAL
    assert health.purposes == (datamap.HEALTH_SERVICES,)
    assert datamap.missing_purposes(["health"], {datamap.CRM_CORE, datamap.MARKETING}) == [datamap.HEALTH_SERVICES]


def test_payment_is_sensitive_and_identity_has_verified_fields() -> None:
    assert datamap.category("payment").sensitivity is Sensitivity.SENSITIVE
    assert set(datamap.category("identity").verified_fields) == {"legal_name", "birth_date"}


@pytest.mark.parametrize(
    ("categories", "granted", "missing"),
    [
        (["identity", "contact"], {"crm_core"}, []),
        (["identity", "preferences"], {"crm_core"}, ["marketing"]),
        (["payment", "health"], set(), ["health_services", "payments"]),
        (["consents", "staff_access"], set(), []),
    ],
)
def test_missing_purposes(categories: list[str], granted: set[str], missing: list[str]) -> None:
    assert datamap.missing_purposes(categories, granted) == missing


def test_withdrawing_a_purpose_leaves_exactly_the_unjustified_categories() -> None:
    remaining = {datamap.CRM_CORE, datamap.PAYMENTS}
    erased = {category.name for category in datamap.unjustified_categories(remaining)}
    # The rule, not today's list: a category added to the data map is held to it without an edit here.
    assert erased == {
        category.name
        for category in datamap.CATEGORIES
        if not category.processing_record and not set(category.purposes) & remaining
    }
    assert {"preferences", "health"} <= erased
    assert not {"identity", "payment", "consents"} & erased


def test_purposes() -> None:
    assert datamap.is_purpose("crm_core")
    assert datamap.is_purpose("sharing:acme-mail")
    assert not datamap.is_purpose("sharing:")
    assert not datamap.is_purpose("everything")


def test_lookup_of_an_unknown_name_fails_loudly() -> None:
    with pytest.raises(KeyError):
        datamap.category("shoe_size")
    with pytest.raises(KeyError):
        datamap.store("spreadsheet")


def test_every_purpose_is_declared_with_a_legal_basis_and_the_names_derive_from_it() -> None:
    assert tuple(item.name for item in datamap.PURPOSE_DECLARATIONS) == datamap.PURPOSES
    assert len(set(datamap.PURPOSES)) == len(datamap.PURPOSES)
    for name in (*datamap.PURPOSES, "sharing:mail-house", datamap.RECORD_KEEPING):
        declared = datamap.purpose(name)
        assert isinstance(declared.legal_basis, datamap.LegalBasis), name
        assert declared.legal_basis.article.startswith("GDPR art. 6(1)("), name
        assert declared.description, name
    with pytest.raises(KeyError):
        datamap.purpose("sharing:")
    with pytest.raises(KeyError):
        datamap.purpose("anything")


def test_the_bases_the_issue_names_and_what_follows_from_them() -> None:
    named = ("crm_core", "marketing", "payments", "health_services")  # a purpose added later has its own basis
    bases = {name: datamap.purpose(name).legal_basis for name in named}
    assert bases == {
        "crm_core": datamap.LegalBasis.CONTRACT,
        "marketing": datamap.LegalBasis.CONSENT,
        "payments": datamap.LegalBasis.CONTRACT,
        "health_services": datamap.LegalBasis.CONSENT,
    }
    assert datamap.purpose("sharing:x").legal_basis is datamap.LegalBasis.CONSENT
    assert datamap.LegalBasis.CONTRACT.article == "GDPR art. 6(1)(b)"
    assert datamap.LegalBasis.LEGITIMATE_INTERESTS.article == "GDPR art. 6(1)(f)"
    assert datamap.essential_purposes() == ("crm_core",)
    assert "marketing" in datamap.objectable_purposes()  # direct marketing: art. 21(2)
    assert not {"crm_core", "payments", "health_services"} & set(datamap.objectable_purposes())
    # Art. 9(2): every purpose that justifies a special category names the condition that allows it.
    for category in datamap.CATEGORIES:
        if category.sensitivity is Sensitivity.SPECIAL:
            for name in category.purposes:
                assert datamap.purpose(name).special_condition, name


def test_only_essential_purposes_collect_while_processing_is_restricted() -> None:
    open_categories = {item.name for item in datamap.CATEGORIES if datamap.collected_for_essential(item.name)}
    assert {"identity", "contact", "interactions", "documents", "consents"} <= open_categories
    assert not {"preferences", "payment", "health"} & open_categories
