"""The model factory: the embedded Chinese ALBERTs built from installed packages (:mod:`.embedded`,
:mod:`.compact`; names and cards in :mod:`.catalog`), model resolution (:mod:`.resolve`: embedded
name, local folder or hub id), loading (:mod:`.loading`) and sentence embeddings (:mod:`.embedder`).
Nothing here knows about training runs. Import from the submodules: this package imports nothing,
so ``zhaug model list`` stays free of torch."""
