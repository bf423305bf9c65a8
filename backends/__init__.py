"""Adapters: one module per array library (installed as ``portconv.backends``).

Each adapter answers, for one array library, the questions the generic code cannot answer
from the array API standard alone: does this object belong to you, what is your array API
namespace, how do arrays move to and from NumPy and between devices, and which native fast
paths do you offer. Adapters are discovered through the ``portconv.backends`` entry-point
group, so a third party can add one without touching portconv.
"""

from ._adapter import Adapter, NativePath

__all__ = ["Adapter", "NativePath"]
