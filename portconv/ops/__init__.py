"""Functional ops, each written once against the array API standard."""

from .conv import corr2d

__all__ = ["corr2d"]
