from botsite.registry import Registry
from conversations.connectors.base import ConnectorType

connector_types: Registry[type[ConnectorType]] = Registry(
    "connector", contract=ConnectorType, group="botsite.connectors"
)


def connector_type_choices() -> list[tuple[str, str]]:
    return connector_types.choices()
