"""Stage 4, analysis: what the finished runs say, as numbers, tables and sentences. Pure.

`runs` loads and groups the runs and studies; `stats` holds the statistics; `evaluation` one run's
test behaviour; `measures` every measurement more than one page shows; `formatting` how a number
reads; `comparison` the two models compared (Discussion, Test-set evidence); `claims` the seed
report's claims tested on the studies.

May import: numpy, `cifarcmp.results` (reading only), `cifarcmp.config`, `cifarcmp.errors`.
Never Keras, TensorFlow, Jinja or matplotlib, and nothing here writes a file.
"""
