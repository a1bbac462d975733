"""ViTPoseLayerDecayOptimWrapperConstructor on a tiny ViTPose model.

The expected lr and weight decay of every parameter are computed here from
the documented rule (module docstring of
``vitpose_mm/engine/optim_wrappers/layer_decay_constructor.py``), not read
back from the code under test.
"""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from vitpose_mm.engine import ViTPoseLayerDecayOptimWrapperConstructor
from vitpose_mm.engine.optim_wrappers import (get_layer_id, get_lr_scale,
                                              is_no_weight_decay)

NAME = 'ViTPoseLayerDecayOptimWrapperConstructor'
DEPTH = 3
LR, WD, DECAY = 1e-3, 0.1, 0.75


def tiny_model_cfg(frozen_stages: int = -1) -> dict:
    """A 64x48 ViTPose (C=32, depth 3) with a one-deconv HeatmapHead."""
    return dict(
        type='TopdownPoseEstimator',
        backbone=dict(
            type='ViTPoseBackbone',
            img_size=(64, 48),
            embed_dim=32,
            depth=DEPTH,
            num_heads=2,
            mlp_ratio=2,
            frozen_stages=frozen_stages),
        head=dict(
            type='HeatmapHead',
            in_channels=32,
            out_channels=17,
            deconv_out_channels=(16, ),
            deconv_kernel_sizes=(4, ),
            loss=dict(type='KeypointMSELoss')))


def optim_cfg(**paramwise) -> dict:
    paramwise.setdefault('layer_decay_rate', DECAY)
    return dict(
        optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
        constructor=NAME,
        paramwise_cfg=paramwise)


def build(model: nn.Module, **paramwise):
    with DefaultScope.overwrite_default_scope('mmpose'):
        return build_optim_wrapper(model, optim_cfg(**paramwise))


def expected_lr_wd(name: str, param: torch.Tensor):
    """The documented rule, written out independently."""
    if name == 'backbone.pos_embed' or name.startswith(
            'backbone.patch_embed.'):
        layer = 0
    elif name.startswith('backbone.blocks.'):
        layer = int(name.split('.')[2]) + 1
    else:
        layer = DEPTH + 1
    no_decay = param.ndim == 1 or name == 'backbone.pos_embed'
    return LR * DECAY**(DEPTH + 1 - layer), 0. if no_decay else WD


def group_of(optim_wrapper) -> dict:
    """id(param) -> its group; fails if a param is in two groups."""
    owner = {}
    for group in optim_wrapper.optimizer.param_groups:
        for p in group['params']:
            assert id(p) not in owner, 'parameter in two groups'
            owner[id(p)] = group
    return owner


def test_registered_in_mmpose_scope():
    assert OPTIM_WRAPPER_CONSTRUCTORS.get(NAME) is \
        ViTPoseLayerDecayOptimWrapperConstructor
    # The constructor is mmpose's, not mmengine's root registry's.
    from mmengine.registry import \
        OPTIM_WRAPPER_CONSTRUCTORS as ROOT_CONSTRUCTORS
    assert NAME not in ROOT_CONSTRUCTORS.module_dict


def test_runner_builds_it_from_config(tmp_path):
    """Outside mmpose's scope the name is unknown; a Runner with
    ``default_scope='mmpose'`` (as every config sets) finds it."""
    from mmengine.runner import Runner
    cfg = optim_cfg(num_layers=DEPTH)
    model = MODELS.build(tiny_model_cfg())
    with DefaultScope.overwrite_default_scope('mmengine'):
        with pytest.raises(KeyError, match=NAME):
            build_optim_wrapper(model, cfg)
        runner = Runner(
            model=tiny_model_cfg(),
            work_dir=str(tmp_path),
            default_scope='mmpose')
        optim_wrapper = runner.build_optim_wrapper(cfg)
    lrs = {g['lr'] for g in optim_wrapper.optimizer.param_groups}
    assert max(lrs) == pytest.approx(LR)
    assert min(lrs) == pytest.approx(LR * DECAY**(DEPTH + 1))


@pytest.mark.parametrize('name, layer', [
    ('backbone.pos_embed', 0),
    ('backbone.patch_embed.proj.weight', 0),
    ('backbone.patch_embed.proj.bias', 0),
    ('backbone.blocks.0.norm1.weight', 1),
    ('backbone.blocks.0.attn.qkv.weight', 1),
    ('backbone.blocks.11.mlp.fc2.bias', 12),
    ('backbone.blocks.4.mlp.experts.5.weight', 5),
    ('backbone.last_norm.weight', 13),
    ('neck.conv.weight', 13),
    ('head.deconv_layers.0.weight', 13),
    ('head.final_layer.bias', 13),
])
def test_layer_id_of_our_names(name, layer):
    assert get_layer_id(name, 12) == layer


def test_layer_id_out_of_range_block():
    with pytest.raises(ValueError, match=r'block 12, but num_layers=12'):
        get_layer_id('backbone.blocks.12.attn.qkv.weight', 12)


@pytest.mark.parametrize('name', [
    'backbone.pos_embed', 'backbone.blocks.5.attn.proj.weight',
    'head.final_layer.weight'
])
def test_lr_scale_matches_original_exponent(name):
    # The original: num_max_layer = num_layers + 2 and
    # scale = rate ** (num_max_layer - layer_id - 1).
    num_max_layer = 12 + 2
    original = 0.8**(num_max_layer - get_layer_id(name, 12) - 1)
    assert get_lr_scale(name, 12, 0.8) == pytest.approx(original)
    assert get_lr_scale('head.final_layer.weight', 12, 0.8) == 1.0
    assert get_lr_scale('backbone.pos_embed', 12, 0.8) == \
        pytest.approx(0.8**13)


@pytest.mark.parametrize('name, ndim, exempt', [
    ('backbone.blocks.0.attn.qkv.weight', 2, False),
    ('backbone.patch_embed.proj.weight', 4, False),
    ('head.final_layer.weight', 4, False),
    ('backbone.blocks.0.attn.qkv.bias', 1, True),
    ('backbone.blocks.0.norm1.weight', 1, True),
    ('backbone.pos_embed', 3, True),
    ('neck.abs_pos_embed', 3, True),
    ('backbone.blocks.0.attn.relative_position_bias_table', 2, True),
    ('backbone.blocks.0.attn.rel_pos_h', 2, True),
    ('backbone.cls_token', 3, True),
    ('head.keypoint_tokens', 3, True),
    ('backbone.pos_embed_proj.weight', 2, False),
])
def test_no_weight_decay_rule(name, ndim, exempt):
    assert is_no_weight_decay(name, ndim) is exempt


@pytest.mark.parametrize('frozen_stages', [-1, 1])
def test_each_param_lr_and_weight_decay(frozen_stages):
    model = MODELS.build(tiny_model_cfg(frozen_stages))
    optim_wrapper = build(model, num_layers=DEPTH)
    owner = group_of(optim_wrapper)
    checked = 0
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert id(param) not in owner, f'frozen {name} has a group'
            continue
        lr, wd = expected_lr_wd(name, param)
        group = owner[id(param)]
        assert group['lr'] == pytest.approx(lr), name
        assert group['weight_decay'] == wd, name
        checked += 1
    assert checked == len(owner)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    if frozen_stages == 1:
        assert 'backbone.pos_embed' in frozen
        assert 'backbone.blocks.0.attn.qkv.weight' in frozen
        assert 'backbone.blocks.1.attn.qkv.weight' not in frozen
    else:
        assert not frozen


def test_num_layers_derived_when_not_given():
    model = MODELS.build(tiny_model_cfg())
    owner = group_of(build(model))
    qkv = model.backbone.blocks[1].attn.qkv.weight
    assert owner[id(qkv)]['lr'] == pytest.approx(LR * DECAY**(DEPTH - 1))


def test_mismatching_num_layers_raises():
    model = MODELS.build(tiny_model_cfg())
    with pytest.raises(
            ValueError,
            match=r'num_layers=12 but the model has 3 '
            r'backbone\.blocks'):
        build(model, num_layers=12)


def test_model_without_blocks_raises():
    model = nn.Module()
    model.backbone = nn.Sequential(nn.Conv2d(3, 8, 3))
    model.head = nn.Conv2d(8, 17, 1)
    with pytest.raises(
            ValueError, match='needs a model with '
            r'backbone\.blocks'):
        build(model)


@pytest.mark.parametrize('paramwise, match', [
    (dict(layer_decay_rate=1.5), r'layer_decay_rate .*got 1\.5'),
    (dict(layer_decay_rate=0), r'layer_decay_rate .*got 0'),
    (dict(layer_decay_rate=None), r'layer_decay_rate .*got None'),
    (dict(num_layers=0), r'num_layers must be .*got 0'),
    (dict(custom_keys={}), r"unknown paramwise_cfg keys \['custom_keys'\]"),
])
def test_bad_paramwise_cfg_raises(paramwise, match):
    model = MODELS.build(tiny_model_cfg())
    with pytest.raises(ValueError, match=match):
        build(model, **paramwise)


def test_moe_experts_keyed_on_their_block():
    """A ViTPose+ style block with ``mlp.experts.k`` gets its block's lr."""

    class MoEMlp(nn.Module):

        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(8, 16)
            self.experts = nn.ModuleList(nn.Linear(16, 4) for _ in range(2))

    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.blocks = nn.ModuleList(nn.Module() for _ in range(2))
    for blk in model.backbone.blocks:
        blk.mlp = MoEMlp()
    model.head = nn.Linear(8, 2)
    owner = group_of(build(model, num_layers=2))
    expert = model.backbone.blocks[0].mlp.experts[1]
    assert owner[id(expert.weight)]['lr'] == pytest.approx(LR * DECAY**2)
    assert owner[id(expert.weight)]['weight_decay'] == WD
    assert owner[id(expert.bias)]['weight_decay'] == 0.
    assert owner[id(model.head.weight)]['lr'] == pytest.approx(LR)


def test_one_summary_log_line():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    model = MODELS.build(tiny_model_cfg(frozen_stages=1))
    num_frozen = sum(not p.requires_grad for p in model.parameters())
    try:
        build(model)
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records if 'lr decay' in r.getMessage()]
    assert len(lines) == 1, lines
    assert f'over {DEPTH} blocks' in lines[0]
    assert f'{num_frozen} frozen' in lines[0]


def test_optimizer_step_updates_only_trainable():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(frozen_stages=1))
    optim_wrapper = build(model, num_layers=DEPTH)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    feats = model.extract_feat(torch.randn(2, 3, 64, 48))
    heatmaps = model.head.forward(feats)  # (2, 17, 8, 6)
    assert heatmaps.shape == (2, 17, 8, 6)
    optim_wrapper.update_params(heatmaps.square().mean())
    for name, param in model.named_parameters():
        changed = not torch.equal(before[name], param.detach())
        assert changed == param.requires_grad, name
