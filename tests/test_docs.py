"""The plugin guide is kept honest: every hook is in the reference with the signature
the code has, says whether it is called per organisation as the code does, and has a
test of its own; every name of the public API and every shipped fixture is
documented. (The test command builds the guide with warnings as errors.)"""

import ast
import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs, plugin_api, testing

ROOT = Path(__file__).parents[1]
HOOKS_DOC = (ROOT / "docs" / "hooks.md").read_text()
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("guichet_"))
SECTION_RE = re.compile(r"^## `(guichet_\w+)`\n(.*?)(?=^## |\Z)", re.M | re.S)
SECTIONS = dict(SECTION_RE.findall(HOOKS_DOC))


def signature_of(name: str) -> str:
    """``guichet_search(query: str, scope: Scope) -> list[SearchResult]``, from the code."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_every_hook_has_a_section_in_the_reference_and_no_section_is_stale():
    assert sorted(SECTIONS) == HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_the_documented_signature_is_the_codes(name):
    documented = re.search(r"```python\n(.*?)\n```", SECTIONS[name], re.S).group(1)
    assert documented == signature_of(name)


@pytest.mark.parametrize("name", HOOKS)
def test_the_reference_and_the_code_agree_on_per_organisation(name):
    said = re.search(r"\*\*Per\s+organisation:\*\*\s+(yes|no)", SECTIONS[name])
    assert said, f"{name}: say **Per organisation:** yes or no"
    per_organisation = name in hookspecs.PER_ORGANISATION
    assert (said.group(1) == "yes") == per_organisation
    docstring = getattr(hookspecs, name).__doc__ or ""
    assert ("*Per organisation" in docstring) == per_organisation, name


def _test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test_of_its_own(name):
    assert any(test.startswith(f"test_hook_{name}") for test in _test_names()), (
        f"write a test named test_hook_{name}_..."
    )


def test_every_name_of_the_public_api_is_documented():
    documented = set(re.findall(r"core\.plugin_api\.(\w+)", (ROOT / "docs" / "api.md").read_text()))
    assert sorted(set(plugin_api.__all__) - documented) == []
    assert sorted(documented - set(plugin_api.__all__)) == []


def test_every_fixture_the_kit_ships_is_documented():
    table = (ROOT / "docs" / "testing.md").read_text()
    fixtures = {
        name
        for name, value in vars(testing).items()
        if type(value).__name__ == "FixtureFunctionDefinition"
    }
    internal = {"smtp_sink", "app_ctx"}  # behind smtp_server, and autouse
    assert {"app", "client", "logged_in", "enable_app", "register_plugin"} <= fixtures
    assert sorted(f for f in fixtures - internal if f"| `{f}`" not in table) == []


def test_every_public_module_of_an_app_is_in_the_guide():
    """An app's public module is what other apps may import of it: the guide's table
    names each one, and nothing else (``docs/together.md``)."""
    table = (ROOT / "docs" / "together.md").read_text()
    documented = set(re.findall(r"`(plugins\.\w+\.public)`", table))
    modules = {f"plugins.{p.parent.name}.public" for p in (ROOT / "plugins").glob("*/public.py")}
    assert documented == modules
