"""Stage 2, training: the seed's two models, one run from data to a finished results directory,
the studies' runs, FLOP counting, Grad-CAM, provenance, and the benchmark.

`run.train(config, out)` is the only way a results directory comes to exist; it writes through
`cifarcmp.results`. This is the only stage that imports Keras (and so a backend).

May import: Keras, numpy, `cifarcmp.data`, `cifarcmp.config`, `cifarcmp.results`, and the pure
metric functions of `cifarcmp.analysis.stats` (accuracy and loss have one definition, shared with
the report).
"""
