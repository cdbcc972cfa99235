"""Built-in sinks ``s3`` and ``security_lake``: objects in S3 (JSON lines or Parquet) and
Amazon Security Lake's custom-source layout, written by the same transport."""

from agent.sdk import Register, hookimpl
from plugins.out_s3.sink import S3Sink, SecurityLakeSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(S3Sink)
    register(SecurityLakeSink)
