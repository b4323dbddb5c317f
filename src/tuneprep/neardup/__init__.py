"""Near-duplicate detection shared by the dedup operators, the leak-free split, ``tuneprep eval``'s
leakage check and ``tuneprep inspect --near-dups``.

* :mod:`tuneprep.neardup.minhash` — normalisation, n-gram shingles, MinHash signatures and the
  choice of LSH bands x rows (the one MinHash implementation of the project);
* :mod:`tuneprep.neardup.cluster` — LSH candidates, union–find clusters in bounded memory, survivors;
* :mod:`tuneprep.neardup.semantic` — embedding neighbours (cosine) with an ANN index.
"""
