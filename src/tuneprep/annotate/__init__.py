"""Annotation: label data cheaply, measure how good the labels are, and send doubtful ones to people.

Modules (each with one job; nothing heavy is imported here, so ``tuneprep --help`` stays fast):

* ``methods``     — the method registry (config + labeler per method) and
  ``annotate_records(records, method, labels, params)``: the library entry point;
* ``core``        — ``Vote`` and how votes are written into records (``meta.annotation``, gold kept);
* ``lexicon``, ``rules``, ``knn``, ``llm``, ``ensemble`` — the labeling methods;
* ``labelmodel``  — majority vote and the Dawid–Skene label model (EM, numpy);
* ``report``      — per-method coverage / overlap / conflict / accuracy / macro-F1 vs gold;
* ``agreement``   — percent agreement, Cohen, Fleiss, Krippendorff over long-format judgements;
* ``issues``      — cross-validated probabilities + cleanlab → a ranked review queue;
* ``interchange`` — Label Studio, Argilla and CSV import/export;
* ``embed``       — cached sentence embeddings (``minilm-l6`` from the model registry);
* ``vader_data``  — VADER's human ratings (Hutto & Gilbert 2014) as records and judgements;

Recipe steps ``annotate.<method>`` live in ``tuneprep.ops.annotate`` (their params derive from
the registry's configs); the OpenAI-compatible server in ``tuneprep.serve``; the
``tuneprep annotate …`` and ``tuneprep serve`` verbs in ``tuneprep.cli.annotate``.
"""
