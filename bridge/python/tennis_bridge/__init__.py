"""tennis-train env bridge for Python: a gym-like client for env servers, and the server core that
bridge/unity/server.py uses to serve unityagents' UnityEnvironment. Protocol: docs/bridge-protocol.md."""
from .client import TennisEnvClient
from .protocol import PROTOCOL_VERSION, BridgeError
from .server import Backend, EnvServer

__all__ = ["TennisEnvClient", "BridgeError", "Backend", "EnvServer", "PROTOCOL_VERSION"]
