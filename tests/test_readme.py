import re
from pathlib import Path

from tools.config_reference import reference

README = Path(__file__).resolve().parent.parent / "README.md"


def test_config_reference_in_readme_matches_the_model_and_defaults():
    text = README.read_text()
    embedded = re.search(r"<!-- config-reference:start[^>]*-->\n(.*?)<!-- config-reference:end -->", text, re.S)
    assert embedded, "README lacks the config-reference markers"
    assert embedded.group(1) == reference(), "README's configuration reference is stale: regenerate it"


def test_reference_lists_every_environment_default():
    table = reference()
    assert "| `mlops:network.natGateways` | `single` | `perAz` | `perAz` |" in table
    assert "| `mlops:cluster.gpu.minSize` | `0` | `0` | `1` |" in table
    assert "| `mlops:tags.owner` | **required** |" in table


def test_readme_names_both_commands():
    text = README.read_text()
    assert "make preview" in text and "make test" in text
