"""Stage 3b, studies: the opt-in studies of the seed report's claims, summarised from their runs.

- `arms`: the same split, four arms (config.ARMS): ResNet50 fine-tuned (the seed's), ResNet50 as a
  frozen feature extractor, ResNet50 from random initialisation, the scratch CNN.
- `data-efficiency`: the fine-tuned, frozen and scratch arms on stratified fractions of the
  training split (1%, 10%, 100% by default).
- `gradcam`: Grad-CAM maps are written by every run (gradcam.npz); this study collects them.

A study's runs are planned by `cifarcmp.plan` and trained by the executors; `summaries` writes what
the report reads. May import: `cifarcmp.plan`, `cifarcmp.results`, `cifarcmp.config`,
`cifarcmp.errors`. Never Keras, the training stage, the executors, analysis or report.
"""
