"""The privacy center's purposes (web/src/privacy-center/purposes.js) are the data map's."""

from __future__ import annotations

import re

from custody.declared import datamap
from devstack.paths import REPO_ROOT

PURPOSES_JS = REPO_ROOT / "web" / "src" / "privacy-center" / "purposes.js"
ENTRY = re.compile(
    r'name: "(?P<name>[a-z_]+)",\s*essential: (?P<essential>true|false),\s*objectable: (?P<objectable>true|false),'
)


def test_the_privacy_center_describes_every_grantable_purpose_as_the_data_map_declares_it() -> None:
    described = {
        match["name"]: (match["essential"] == "true", match["objectable"] == "true")
        for match in ENTRY.finditer(PURPOSES_JS.read_text())
    }
    declared = {
        purpose.name: (purpose.essential, purpose.objectable)
        for purpose in datamap.PURPOSE_DECLARATIONS
        if purpose.grantable
    }
    assert described == declared


def test_every_purpose_has_its_policy_text_in_english_and_vietnamese() -> None:
    source = PURPOSES_JS.read_text()
    blocks = source.split('name: "')[1:]
    assert len(blocks) == len(datamap.PURPOSE_DECLARATIONS)
    for block in blocks:
        assert re.search(r"title: \{ en: \"[^\"]+\", vi: \"[^\"]+\" \}", block), block[:40]
        assert re.search(r"text: \{\s*en:\s*\"", block), block[:40]
        assert re.search(r"\n\s*vi:\s*\"", block), block[:40]
