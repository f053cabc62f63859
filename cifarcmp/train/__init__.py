"""Stage 2, training: the seed's two models, one run from data to a finished results directory,
FLOP counting, Grad-CAM, provenance, and the benchmark. Studies are ordinary runs of the plan,
trained by the executors like any other.

`run.train(config, out)` is the only way a results directory comes to exist; it writes through
`cifarcmp.results`. This is the only stage that imports Keras (and so a backend).

May import: Keras, numpy, `cifarcmp.data`, `cifarcmp.config`, `cifarcmp.results`, and
`cifarcmp.stats` (accuracy and loss have one definition, shared with the report). Never the stages
after it (analysis, report), the plan, the executors or the command line.
"""
