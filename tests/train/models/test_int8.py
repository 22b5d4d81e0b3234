import torch
from torch import nn

from tests.train_helpers import tiny_model
from zhaug.train.models.int8 import SmoothedInt8Linear, dynamic_int8, quantize_int8
from zhaug.train.models.loading import load_classifier


def test_smoothing_absorbs_an_outlier_input_channel():
    generator = torch.Generator().manual_seed(0)
    linear = nn.Linear(64, 32)
    x = torch.rand(256, 64, generator=generator) * 0.05
    x[:, 3] *= 40  # one channel 40x larger, as after GELU in a fine-tuned encoder
    exact = linear(x).detach()
    plain = (dynamic_int8(linear)(x) - exact).abs().mean()
    smoothed = (SmoothedInt8Linear(linear, x.abs().amax(dim=0))(x) - exact).abs().mean()
    assert smoothed < plain / 2


def test_attention_and_feed_forward_are_quantised_the_rest_stays_fp32(tmp_path):
    model = load_classifier(tiny_model(tmp_path / "m"), 2, {0: "neg", 1: "pos"}).eval()
    ids = torch.randint(5, model.config.vocab_size, (4, 12), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        before = model(input_ids=ids).logits
    quantize_int8(model, lambda: model(input_ids=ids))
    kinds = {name.rsplit(".", 1)[-1]: type(module) for name, module in model.named_modules()}
    assert kinds["query"] is kinds["dense"] is torch.ao.nn.quantized.dynamic.Linear
    assert kinds["ffn"] is kinds["ffn_output"] is SmoothedInt8Linear
    assert kinds["classifier"] is kinds["embedding_hidden_mapping_in"] is kinds["pooler"] is nn.Linear
    with torch.inference_mode():
        assert torch.allclose(model(input_ids=ids).logits, before, atol=0.05)


def test_calibration_is_cached_beside_the_model(tmp_path):
    folder = tiny_model(tmp_path / "m")
    first = load_classifier(folder, 2, {0: "neg", 1: "pos"}).eval()
    ids = torch.randint(5, first.config.vocab_size, (4, 12), generator=torch.Generator().manual_seed(2))
    quantize_int8(first, lambda: first(input_ids=ids), cache=folder / "amax.safetensors")

    def not_again() -> None:
        raise AssertionError("calibrated twice")

    second = quantize_int8(load_classifier(folder, 2, {0: "neg", 1: "pos"}).eval(), not_again,
                           cache=folder / "amax.safetensors")
    with torch.inference_mode():
        assert torch.equal(first(input_ids=ids).logits, second(input_ids=ids).logits)
