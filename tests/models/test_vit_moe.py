"""ViTPose+ backbone: MoE FFN routing, errors, and parity with the original."""
import pytest
import torch
from mmpose.registry import MODELS

from tests.conftest import load_fixture
from tests.tiny import TINY_MOE, tiny_backbone
from vitpose_mm.models import ViTPosePlusBackbone
from vitpose_mm.models.layers import MoEMlp

TINY = TINY_MOE


def tiny(**kwargs):
    return tiny_backbone(ViTPosePlusBackbone, base=TINY_MOE, **kwargs)


def masked_reference(mlp: MoEMlp, x, index):
    """The original's evaluation: every expert on every sample, masked."""
    h = mlp.act(mlp.fc1(x))
    part = sum(expert(h) * (index == e).view(-1, 1, 1).float()
               for e, expert in enumerate(mlp.experts))
    return torch.cat([mlp.fc2(h), part], dim=-1)


def test_registered_and_presets():
    assert type(MODELS.build(dict(type='ViTPosePlusBackbone', **TINY))) \
        is ViTPosePlusBackbone
    model = ViTPosePlusBackbone(arch='small', depth=1, img_size=(64, 48))
    assert model.part_features == 96 and model.num_expert == 6
    fc2 = model.blocks[0].mlp.fc2.weight
    assert fc2.shape == (384 - 96, 384 * 4)


def test_parity_with_original_vit_moe():
    fx = load_fixture('vit_moe.pt')
    cfg = {k: v for k, v in fx['config']['backbone'].items() if k != 'type'}
    model = ViTPosePlusBackbone(**cfg).eval()
    model.load_state_dict(
        {k[len('backbone.'):]: v for k, v in fx['state_dict'].items()},
        strict=True)
    with torch.no_grad():
        out = model(fx['input'], fx['dataset_idx'])[0]
    torch.testing.assert_close(out, fx['output'], rtol=0, atol=1e-5)


@pytest.mark.parametrize('index', [[0, 1, 2, 1], [2, 2, 2, 2], [0, 0, 1, 1]])
def test_routing_equals_masked_evaluation(index):
    torch.manual_seed(0)
    mlp = MoEMlp(32, 64, num_expert=3, part_features=8).eval()
    x = torch.randn(4, 6, 32)
    index = torch.tensor(index)
    torch.testing.assert_close(mlp(x, index), masked_reference(mlp, x, index),
                               rtol=0, atol=1e-6)


def test_expert_channels_are_last_and_follow_the_index():
    model = tiny().eval()
    x = torch.randn(1, 3, 64, 48).expand(3, -1, -1, -1)
    with torch.no_grad():
        out = model(x, torch.tensor([0, 1, 2]))[0]
        mlp = model.blocks[0].mlp
        h = torch.randn(1, 5, 32)
        a, b = mlp(h, torch.tensor([0])), mlp(h, torch.tensor([1]))
    # Same image, other experts: other features.
    assert not torch.allclose(out[0], out[1])
    # In one FFN only the last part_features channels depend on the expert.
    torch.testing.assert_close(a[..., :24], b[..., :24])
    assert not torch.allclose(a[..., 24:], b[..., 24:])


def test_batch_equals_samples_one_by_one():
    model = tiny().eval()
    x, index = torch.randn(3, 3, 64, 48), torch.tensor([2, 0, 2])
    with torch.no_grad():
        batch = model(x, index)[0]
        single = torch.cat([model(x[i:i + 1], index[i:i + 1])[0]
                            for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)


def test_missing_or_bad_index_is_an_error():
    model = tiny().eval()
    x = torch.randn(2, 3, 64, 48)
    with pytest.raises(ValueError, match='3 experts and needs a dataset_index'):
        model(x)
    with pytest.raises(ValueError, match=r'dataset_index \[3\] out of range'):
        model(x, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match='1 entries for a batch of 2'):
        model(x, torch.tensor([0]))
    with pytest.raises(ValueError, match='part_features=64'):
        tiny(part_features=64)
    # One expert needs no index.
    assert tiny(num_expert=1)(x)[0].shape == (2, 32, 4, 3)


def test_unused_experts_still_get_a_zero_gradient():
    """DDP needs every parameter in the graph, also for absent datasets."""
    model = tiny().train()
    out = model(torch.randn(2, 3, 64, 48), torch.tensor([0, 0]))[0]
    (out * torch.randn_like(out)).sum().backward()
    for blk in model.blocks:
        used, unused = blk.mlp.experts[0], blk.mlp.experts[2]
        assert used.weight.grad.abs().sum() > 0
        assert unused.weight.grad is not None
        assert unused.weight.grad.abs().sum() == 0
