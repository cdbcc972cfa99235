"""Delivery: one worker per sink from its spool queue to its destination (``worker``), with the
retry schedule and outcome classification (``retry``), the circuit breaker (``circuit``), the rate
limit (``ratelimit``) and flood caps (``flood``).
"""
