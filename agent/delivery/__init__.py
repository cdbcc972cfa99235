"""Delivery: one worker per sink from its spool queue to its destination (``worker``), with the
retry schedule, circuit breaker and rate limit (``retry``) and flood caps (``flood``).
"""
