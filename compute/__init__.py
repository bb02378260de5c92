"""The compute domain: Nova's state model, the action table, the state machine and the agent.

Nothing in this package imports ``dashboard``; the edges call in, never the other way round.
"""
