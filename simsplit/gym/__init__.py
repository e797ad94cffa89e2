"""A Gymnasium environment for learning split policies (the ``gym`` extra: gymnasium and greenlet):
:class:`~simsplit.gym.env.SplitEnv`, one device's decisions as actions, the rest of the scenario simulated as
usual. Imported on first use, so that ``import simsplit`` does not need the extra."""

__all__ = ["SplitEnv"]


def __getattr__(name: str):
    if name == "SplitEnv":
        from simsplit.gym.env import SplitEnv
        return SplitEnv
    raise AttributeError(f"module 'simsplit.gym' has no attribute {name!r}")
