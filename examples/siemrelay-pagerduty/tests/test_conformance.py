"""siemrelay's sink conformance suite, run against this plugin: one subclass, no code."""

from agent.testing.pytest_plugin import SinkConformance
from siemrelay_pagerduty.sink import PagerDutySink


class TestPagerDutyConformance(SinkConformance):
    sink_class = PagerDutySink
