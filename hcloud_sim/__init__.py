"""hcloud_sim: a faithful, stateful simulator of the Hetzner Cloud API for tests and demos."""

from __future__ import annotations

from hcloud_sim.scenarios import BUILTINS, ScenarioError, load_scenario
from hcloud_sim.server import SimulatorServer
from hcloud_sim.spec import Scenario
from hcloud_sim.state import Simulator

__all__ = ["BUILTINS", "Scenario", "ScenarioError", "Simulator", "SimulatorServer", "load_scenario"]
