"""Built-in sink ``elasticsearch``: Elasticsearch and OpenSearch ``_bulk`` with per-item results."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("elasticsearch", "plugins.out_elasticsearch.sink:ElasticsearchSink"))
