"""Selection operators that choose the data that teaches (issue 15).

Importing this package registers ``select.balance``, ``select.diverse``, ``select.relevance``,
``select.top`` and ``filter.label_issues``. Each submodule imports only light dependencies at
top level; numpy/sklearn/cleanlab and the encoder load inside ``apply_global``.
"""

from tuneprep.ops.selection import balance, diverse, label_issues, relevance, top  # noqa: F401
