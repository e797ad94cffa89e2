"""The scenario file: its schema (:mod:`.schema`, :mod:`.server`), loader, ``--set`` overrides, error messages.

A scenario is plain validated data and never imports the engine. See ``docs/formats.md`` for the file
and ``simsplit kinds`` for every registered kind.
"""

from simsplit.scenario.loader import (
           EXTENSION_PREFIX,
           load_scenario,
           read_yaml,
           to_yaml,
           validate_scenario,
)
from simsplit.scenario.overrides import apply_overrides
from simsplit.scenario.schema import (
           DeviceGroupConfig,
           ModelFilesConfig,
           NetworkConfig,
           ProbeConfig,
           Scenario,
           SwitchCostConfig,
)
from simsplit.scenario.server import BatchingConfig, BatchScalingConfig, ServerConfig

__all__ = ["EXTENSION_PREFIX", "BatchScalingConfig", "BatchingConfig", "DeviceGroupConfig", "ModelFilesConfig",
           "NetworkConfig", "ProbeConfig", "Scenario", "ServerConfig", "SwitchCostConfig", "apply_overrides",
           "load_scenario", "read_yaml", "to_yaml", "validate_scenario"]
