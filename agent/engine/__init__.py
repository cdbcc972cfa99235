"""The running agent: the supervisor (start/stop order, signals), building components from a
validated configuration, the intake (decode, route, spool), reload, sd_notify, de-duplication.
"""
