"""Stage 5, the report: tables and their downloads, figures, and the one renderer of the site.

`render.render(results_root)` writes docs/generated/ from finished runs; `tables` builds the main
pages' tables and writes their downloads; `figures` draws every figure; `site` is what the
executed notebook pages read back.

May import: `cifarcmp.analysis`, `cifarcmp.results`, `cifarcmp.config`, `cifarcmp.paths`, Jinja,
Markdown and matplotlib. Never Keras or TensorFlow: `cifarcmp render` runs without either.
"""
