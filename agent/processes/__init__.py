"""The agent's child processes: how one starts (:mod:`agent.processes.launch`: a fresh
interpreter that runs one function, never a fork of the threaded agent) and how the agent
talks to it (:mod:`agent.processes.channel`: two widened one-way pipes). The preparing
children of the intake and the encoding children of socket sinks both use them.
"""
