"""The Jenkins xunit plugin's junit-10 schema, which every junit.xml we write must pass.

tests/schema/jenkins-junit-10.xsd is a copy of the schema the xunit plugin validates
against; where the team's shared copy exists (../shared/schemas), the two must be equal."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMA = Path(__file__).parent / "schema" / "jenkins-junit-10.xsd"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "jenkins-xunit-junit-10.xsd"


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def validate(text: str) -> None:
    """Raise AssertionError naming every schema violation of a junit.xml text."""
    document = etree.fromstring(text.encode())
    schema = _schema()
    if not schema.validate(document):
        errors = str(schema.error_log)  # one line per violation, with its line number
        raise AssertionError(f"junit.xml is not valid junit-10:\n{errors}")
