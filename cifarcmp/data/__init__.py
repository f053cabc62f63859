"""Stage 1, the data: CIFAR-10 fetched and verified, archives parsed safely, synthetic data, splits.

`source` downloads or opens a data set and checks it; `archive` reads and writes the official
archive layouts without ever unpickling untrusted code; `synthetic` makes a learnable stand-in in
that same layout; `splits` holds the seeded, stratified hold-outs every run uses.

May import: numpy, Keras' download utility (inside `source.fetch` only), `cifarcmp.errors`.
"""
