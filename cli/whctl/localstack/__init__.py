"""The local stack: source and warehouse PostgreSQL, Kafka (KRaft) and Kafka Connect on loopback.

One module per component (`postgres`, `kafka`, `connect`), the process plumbing they share
(`proc`), the Java runtime resolved from Maven Central (`runtime`), the prerequisites
(`prereqs`), and the orchestration (`stack`). `sandbox` runs a throw-away stack on free ports
(for tests).
"""
from whctl.localstack.stack import Stack

__all__ = ["Stack"]
