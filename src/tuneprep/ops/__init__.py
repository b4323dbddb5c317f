"""Operators, one module per family. See ``tuneprep.ops.base`` for the shapes and registry."""

from tuneprep.ops.base import (
    BatchOp,
    Drop,
    GlobalOp,
    Item,
    Op,
    OpParams,
    RecordOp,
    all_ops,
    build_op,
    get_op,
    register,
)

__all__ = ["BatchOp", "Drop", "GlobalOp", "Item", "Op", "OpParams", "RecordOp", "all_ops", "build_op", "get_op", "register"]
