"""Ways to reach a node: ssh (paramiko), docker exec, and this machine."""

from breakfix.transport.base import CommandResult, FileStat, Transport
from breakfix.transport.node import Node
from breakfix.transport.spec import TransportSpec, open_transport, parse_spec

__all__ = ["CommandResult", "FileStat", "Node", "Transport", "TransportSpec", "open_transport", "parse_spec"]
