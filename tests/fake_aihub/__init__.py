"""A stand-in for Qualcomm AI Hub's service (see service.py)."""

from tests.fake_aihub.service import DEVICES, FakeHub

__all__ = ["DEVICES", "FakeHub"]
