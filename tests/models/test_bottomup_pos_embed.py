"""Whole-image input of the ViTPose backbones (``dynamic_img_size``)."""
import pytest
import torch

from tests.tiny import TINY_VIT, tiny_backbone
from vitpose_mm.models import ViTPoseBackbone, ViTPosePlusBackbone
from vitpose_mm.models.layers import resize_pos_embed

TINY = TINY_VIT


def tiny(cls=ViTPoseBackbone, **kwargs):
    return tiny_backbone(cls, eval=True, **kwargs)


def built_for(model, img_size, cls=ViTPoseBackbone, **kwargs):
    """The same weights in a backbone built for ``img_size``, its
    ``pos_embed`` resized explicitly."""
    other = cls(**{**TINY, 'img_size': img_size, **kwargs}).eval()
    state = dict(model.state_dict())
    state['pos_embed'] = resize_pos_embed(
        model.pos_embed.detach(), model.patch_embed.patch_shape,
        other.patch_embed.patch_shape)
    other.load_state_dict(state)
    return other


@pytest.mark.parametrize('hw', [(128, 96), (80, 112), (48, 48)])
def test_other_sizes_give_the_tokens_of_a_resized_pos_embed(hw):
    model = tiny(dynamic_img_size=True)
    reference = built_for(model, hw)
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        out = model(x)[0]
        ref = reference(x)[0]
    assert out.shape == ref.shape == (2, 32, hw[0] // 16, hw[1] // 16)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)


def test_vitpose_plus_takes_whole_images_too():
    kw = dict(num_expert=2, part_features=8)
    model = tiny(ViTPosePlusBackbone, dynamic_img_size=True, **kw)
    reference = built_for(model, (96, 128), ViTPosePlusBackbone, **kw)
    x, index = torch.randn(2, 3, 96, 128), torch.tensor([0, 1])
    with torch.no_grad():
        torch.testing.assert_close(model(x, index)[0],
                                   reference(x, index)[0], rtol=0, atol=1e-6)


def test_img_size_input_is_bit_identical_to_the_top_down_path():
    fixed, dynamic = tiny(), tiny(dynamic_img_size=True)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(fixed(x)[0], dynamic(x)[0])
    assert not dynamic._pos_embed_cache


def test_top_down_backbone_still_refuses_another_size():
    with pytest.raises(ValueError, match='dynamic_img_size=True'):
        tiny()(torch.randn(1, 3, 128, 96))


def test_cache_is_reused_in_eval_and_refreshed_when_weights_change():
    model = tiny(dynamic_img_size=True)
    with torch.no_grad():
        first = model.grid_pos_embed((8, 6))
        assert model.grid_pos_embed((8, 6)) is first
        model.pos_embed.add_(1.0)  # an optimizer step or load_state_dict
        second = model.grid_pos_embed((8, 6))
    assert second is not first
    torch.testing.assert_close(second, first + 2.0)  # grid row + cls row


def test_training_gets_pos_embed_gradients_and_caches_nothing():
    model = tiny(dynamic_img_size=True).train()
    out = model(torch.randn(2, 3, 128, 96))[0]
    out.square().mean().backward()
    assert model.pos_embed.grad is not None
    assert model.pos_embed.grad.abs().sum() > 0
    assert not model._pos_embed_cache
