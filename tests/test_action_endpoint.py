"""The domain is not posted with every action call (`enable_selective_domain`), which is safe only
while no action reads it: an action that starts to must say `send_domain: true` in domain.yml."""

from __future__ import annotations

import ast
from typing import Iterator, Set

import yaml

from nlu_components.paths import PROJECT_ROOT


def action_name(node: ast.ClassDef) -> str:
    """What the action class's `name()` returns (its name in domain.yml), else the class name."""
    for method in node.body:
        if isinstance(method, ast.FunctionDef) and method.name == "name":
            for statement in ast.walk(method):
                if isinstance(statement, ast.Return) and isinstance(statement.value, ast.Constant):
                    return str(statement.value.value)
    return node.name


def actions_reading_their_domain(source: str) -> Iterator[str]:
    """The names of the actions whose `run` reads its `domain` argument (its fourth parameter)."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for method in node.body:
            if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) and method.name == "run":
                parameters = [argument.arg for argument in method.args.args]
                domain = parameters[3] if len(parameters) > 3 else None
                used = {
                    n.id for n in ast.walk(method) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                }
                if domain in used:
                    yield action_name(node)


def actions_sent_the_domain() -> Set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {
        name
        for action in domain["actions"]
        if isinstance(action, dict)
        for name, settings in action.items()
        if (settings or {}).get("send_domain")
    }


def test_the_action_endpoint_posts_the_domain_only_to_actions_that_ask_for_it() -> None:
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["action_endpoint"]["enable_selective_domain"] is True
    readers = {name for path in sorted((PROJECT_ROOT / "actions").glob("*.py"))
               for name in actions_reading_their_domain(path.read_text(encoding="utf-8"))}  # fmt: skip
    assert readers <= actions_sent_the_domain(), f"{sorted(readers)} read the domain: add send_domain: true"


def test_the_check_finds_an_action_that_reads_its_domain() -> None:
    source = (
        "class ActionUsesDomain(Action):\n"
        "    def name(self):\n"
        "        return 'action_uses_domain'\n"
        "    async def run(self, dispatcher, tracker, domain):\n"
        "        return [SlotSet('x', domain['slots'])]\n"
        "class ActionIgnoresDomain(Action):\n"
        "    async def run(self, dispatcher, tracker, domain):\n"
        "        return []\n"
    )
    assert list(actions_reading_their_domain(source)) == ["action_uses_domain"]
