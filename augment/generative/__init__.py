"""Generative augmentation: GGUF chat models through llama.cpp, their registry, prompts and reply cache.

``xllamacpp`` (the runtime) is optional and imported only when a reply is not cached:
``pip install 'zhaug[llm]'``. The packaged models are listed in :data:`models.MODELS`.
"""

from zhaug.augment.generative.models import DEFAULT_MODEL, MODELS, ModelSpec, resolve_model

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "resolve_model"]
