"""Built-in sinks ``s3`` and ``security_lake``: objects in S3 (JSON lines or Parquet) and
Amazon Security Lake's custom-source layout, written by the same transport."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("s3", "plugins.out_s3.sink:S3Sink"))
    register(TypeRef("security_lake", "plugins.out_s3.sink:SecurityLakeSink"))
