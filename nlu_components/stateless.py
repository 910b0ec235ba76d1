"""Base for the project's components that learn nothing."""

from __future__ import annotations

from typing import Any, Dict

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


class StatelessComponent(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls.from_config(config)

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> GraphComponent:
        """The component for its configuration; none by default."""
        return cls()
