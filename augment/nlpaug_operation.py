"""A zhaug operation as an nlpaug augmenter (for ``nlpaug.flow`` pipelines).

Its own module because it subclasses nlpaug's ``Augmenter``, so importing it imports nlpaug
(seconds: pandas, and transformers through ``nlpaug.augmenter.word``);
``zhaug.augment.nlpaug_bridge.NlpaugOperation`` imports it on first access.
"""

from __future__ import annotations

from collections import OrderedDict

from nlpaug import Augmenter
from nlpaug.util import Action, Method

from zhaug.augment.base import Operation, default_segmenter
from zhaug.augment.text import Segmenter, join
from zhaug.rng import derive_rng


class NlpaugOperation(Augmenter):
    """A zhaug operation as an nlpaug augmenter (for ``nlpaug.flow`` pipelines).

    Parameters
    ----------
    op:
        Any zhaug :class:`~zhaug.augment.base.Operation`.
    seed:
        The ``k``-th output this augmenter makes for a text (``k`` = 0, 1, ...) is ``op``
        applied with ``derive_rng(seed, text, op.name, k)``: the first output for a text
        depends only on the seed and the text, and flows that call an augmenter repeatedly
        (``Sequential.augment(text, n=3)``) still get different outputs. Counts are kept for
        the last ``MEMORY`` texts; :meth:`reset` forgets them.
    segmenter:
        The :class:`~zhaug.augment.text.Segmenter` (default: the shared one, all spans protected).

    nlpaug's ``Sometimes`` flow decides with ``numpy.random``; seed that yourself for
    reproducible flow decisions.
    """

    MEMORY = 4096

    def __init__(self, op: Operation, seed: int = 0, segmenter: Segmenter | None = None, name: str | None = None):
        super().__init__(
            name=name or f"zhaug_{op.name}", method=Method.WORD, action=Action.SUBSTITUTE,
            aug_min=None, aug_max=None, aug_p=None,
        )
        self.op, self.seed, self.segmenter = op, seed, segmenter
        self._calls: OrderedDict[str, int] = OrderedDict()

    def augment_one(self, text: str, copy_index: int | None = None) -> str:
        """Copy ``copy_index`` of ``text``; by default the next copy (0 on the first call for a text)."""
        if copy_index is None:
            copy_index = self._next_copy(text)
        tokens = (self.segmenter or default_segmenter())(text)
        return join(self.op.apply(tokens, derive_rng(self.seed, text, self.op.name, copy_index)))

    def _next_copy(self, text: str) -> int:
        copy_index = self._calls.pop(text, 0)
        self._calls[text] = copy_index + 1
        if len(self._calls) > self.MEMORY:
            self._calls.popitem(last=False)
        return copy_index

    def reset(self) -> None:
        """Forget the call counts: the next call for each text gives copy 0 again."""
        self._calls.clear()

    def augment(self, data, n: int = 1, num_thread: int = 1):
        """Like nlpaug: a list in → one output per item; a text in → up to ``n`` distinct outputs."""
        if isinstance(data, list):
            return [self.augment_one(text) if text else text for text in data]
        if not data:
            return []
        outputs: list[str] = []
        for _ in range(4 * n):  # nlpaug's retry budget: (3 retries + 1) × n
            output = self.augment_one(data)
            if output not in outputs:
                outputs.append(output)
            if len(outputs) == n:
                break
        return outputs

    def substitute(self, data):
        return self.augment_one(data)

    @classmethod
    def clean(cls, data):
        return data

    @classmethod
    def is_duplicate(cls, dataset, data):
        return any(d == data for d in dataset)
