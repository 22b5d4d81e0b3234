"""scikit-learn's parameter protocol for zhaug's components (operations, gates): ``get_params`` /
``set_params`` read and write the constructor's parameters, so ``sklearn.base.clone`` rebuilds a
component from them. It only works if constructors store each parameter as given, under its
own name; validation may raise, but never rewrite a value."""

from __future__ import annotations

import inspect
from typing import Any


class Parameters:
    """Mixin: the constructor's parameters are the component's public state."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name, p in signature.parameters.items()
                if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters and their values; a parameter not stored under its name is a bug."""
        missing = [name for name in self._param_names() if not hasattr(self, name)]
        if missing:
            raise AttributeError(f"{type(self).__name__} does not store its parameters {missing}")
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Parameters:
        """Set constructor parameters (as ``clone`` and grid searches do); returns ``self``."""
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameters {sorted(unknown)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self
