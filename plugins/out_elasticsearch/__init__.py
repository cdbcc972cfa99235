"""Built-in sink ``elasticsearch``: Elasticsearch and OpenSearch ``_bulk`` with per-item results."""

from agent.sdk import Register, hookimpl
from plugins.out_elasticsearch.sink import ElasticsearchSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(ElasticsearchSink)
