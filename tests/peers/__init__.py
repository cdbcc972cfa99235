"""Real peers for tests (syslog-ng, ...), started on free loopback ports and always stopped."""
