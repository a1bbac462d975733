"""Layout conversion: round trips, key tables, detection, fit checks and
the original ViTPose fixtures loaded through the converter."""
import pytest
import torch

from tests.checkpoint.helpers import (NUM_KEYPOINTS, build_pose_model,
                                      heatmaps, randomise_)
from tests.conftest import load_fixture
from vitpose_mm.checkpoint import (check_fits, convert_state_dict,
                                   detect_layout)

DECODERS = ('classic', 'simple')
C = 32  # tiny embed_dim of helpers.TINY


@pytest.fixture(scope='module', params=DECODERS)
def tiny(request):
    """(decoder, random model, its state dict, an input batch)."""
    model = randomise_(build_pose_model(request.param), seed=7)
    x = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    return request.param, model, model.state_dict(), x


def assert_same_state(a, b):
    assert set(a) == set(b), set(a) ^ set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize('to', ['hf', 'original', 'vitpose_mm'])
def test_round_trip_is_exact(tiny, to):
    _, _, state, _ = tiny
    there = convert_state_dict(state, to=to)
    assert detect_layout(there) == to
    assert_same_state(convert_state_dict(there), state)


def test_round_trip_through_mmpose_keeps_heatmaps_bit_exact(tiny):
    decoder, model, state, x = tiny
    mm = convert_state_dict(state, to='mmpose')
    assert detect_layout(mm) == 'mmpose'
    back = convert_state_dict(mm)
    other = build_pose_model(decoder)
    other.load_state_dict(back, strict=True)
    assert torch.equal(heatmaps(other, x), heatmaps(model, x))
    # mmpose -> ours -> mmpose is exact key by key
    assert_same_state(convert_state_dict(back, to='mmpose'), mm)


def test_hf_keys_split_qkv_and_rename_head(tiny):
    decoder, _, state, _ = tiny
    hf = convert_state_dict(state, to='hf')
    qkv = state['backbone.blocks.1.attn.qkv.weight']
    att = 'backbone.encoder.layer.1.attention.attention'
    assert torch.equal(hf[f'{att}.query.weight'], qkv[:C])
    assert torch.equal(hf[f'{att}.key.weight'], qkv[C:2 * C])
    assert torch.equal(hf[f'{att}.value.weight'], qkv[2 * C:])
    assert torch.equal(hf['backbone.embeddings.position_embeddings'],
                       state['backbone.pos_embed'])
    assert torch.equal(hf['head.conv.weight'],
                       state['head.final_layer.weight'])
    if decoder == 'classic':
        assert torch.equal(hf['head.batchnorm2.running_var'],
                           state['head.deconv_layers.4.running_var'])
    assert not any('qkv' in k for k in hf)


def test_mmpose_keys_fold_the_cls_row(tiny):
    _, _, state, _ = tiny
    mm = convert_state_dict(state, to='mmpose')
    pos = state['backbone.pos_embed']
    assert mm['backbone.pos_embed'].shape == (1, pos.shape[1] - 1, C)
    assert torch.equal(mm['backbone.pos_embed'], pos[:, 1:] + pos[:, 0:1])
    assert torch.equal(mm['backbone.layers.0.ffn.layers.0.0.weight'],
                       state['backbone.blocks.0.mlp.fc1.weight'])
    assert torch.equal(mm['backbone.ln1.bias'],
                       state['backbone.last_norm.bias'])


def test_mmpose_with_cls_token_keeps_the_pos_rows(tiny):
    _, _, state, _ = tiny
    mm = convert_state_dict(state, to='mmpose')
    pos = torch.randn(1, 13, C)
    mm.update({
        'backbone.pos_embed': pos,
        'backbone.cls_token': torch.randn(1, 1, C),
        'neck.decoder_pos_embed': torch.randn(1, 13, 16)
    })
    ours = convert_state_dict(mm)
    assert torch.equal(ours['backbone.pos_embed'], pos)
    assert 'backbone.cls_token' not in ours
    assert not any(k.startswith('neck.') for k in ours)


def test_original_vitpose_plus_extras_are_dropped(tiny):
    _, _, state, _ = tiny
    orig = convert_state_dict(state, to='original')
    assert 'keypoint_head.final_layer.weight' in orig
    orig['backbone.cls_token'] = torch.zeros(1, 1, C)
    orig['associate_keypoint_heads.0.final_layer.weight'] = torch.zeros(3)
    assert detect_layout(orig) == 'original'
    assert_same_state(convert_state_dict(orig), state)


def test_detects_and_reads_a_bare_mae_backbone(tiny):
    _, _, state, _ = tiny
    bare = {
        k[len('backbone.'):]: v
        for k, v in state.items()
        if k.startswith('backbone.') and 'last_norm' not in k
    }
    bare.update(
        cls_token=torch.zeros(1, 1, C),
        mask_token=torch.zeros(C),
        **{
            'norm.weight': torch.ones(C),
            'decoder_embed.weight': torch.ones(16, C)
        })
    assert detect_layout(bare) == 'mae'
    ours = convert_state_dict(bare)
    assert set(ours) == {
        k
        for k in state if k.startswith('backbone.') and 'last_norm' not in k
    }


def test_unknown_layout_lists_keys():
    with pytest.raises(
            ValueError, match=r"Unknown checkpoint layout.*"
            r"'fc\.weight'"):
        detect_layout({'fc.weight': torch.zeros(2, 2)})


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(to='mae'), ValueError, "Unknown target layout 'mae'"),
    (dict(to='onnx'), ValueError, "Unknown target layout 'onnx'"),
    (dict(src='timm'), ValueError, "Unknown source layout 'timm'"),
])
def test_bad_layout_names(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        convert_state_dict(tiny[2], **kwargs)


def test_bad_state_dicts():
    with pytest.raises(TypeError, match='got list'):
        convert_state_dict([torch.zeros(1)])
    with pytest.raises(ValueError, match="'backbone.pos_embed' is a str"):
        convert_state_dict({'backbone.pos_embed': 'x'})


def test_hf_refuses_what_it_cannot_hold(tiny):
    decoder, _, state, _ = tiny
    no_norm = {k: v for k, v in state.items() if 'last_norm' not in k}
    with pytest.raises(ValueError, match='final LayerNorm'):
        convert_state_dict(no_norm, to='hf')
    if decoder == 'classic':
        bad = dict(state)
        bad['head.deconv_layers.6.weight'] = torch.zeros(256, 256, 4, 4)
        with pytest.raises(
                ValueError, match=r'exactly two deconv.*'
                r'\[0, 1, 3, 4, 6\]'):
            convert_state_dict(bad, to='hf')
        bad = dict(state)
        bad['head.deconv_layers.3.weight'] = torch.zeros(256, 128, 4, 4)
        with pytest.raises(
                ValueError,
                match=r'deconv_layers\.3\.weight is '
                r'\(256, 128, 4, 4\)'):
            convert_state_dict(bad, to='hf')
    hf = convert_state_dict(state, to='hf')
    del hf['backbone.encoder.layer.0.attention.attention.value.bias']
    with pytest.raises(
            ValueError, match='Block 0 .* no attention value '
            'bias'):
        convert_state_dict(hf)


def test_key_without_counterpart_is_named(tiny):
    mm = convert_state_dict(tiny[2], to='mmpose')
    mm['backbone.pre_norm.weight'] = torch.ones(C)
    with pytest.raises(
            ValueError,
            match=r"'backbone\.pre_norm\.weight' of "
            'the mmpose layout has no counterpart'):
        convert_state_dict(mm)


def test_check_fits_accepts_every_layout(tiny):
    decoder, _, state, _ = tiny
    model = build_pose_model(decoder)
    for to in ('hf', 'original', 'mmpose'):
        ours = check_fits(model, convert_state_dict(state, to=to))
        model.load_state_dict(ours, strict=True)
    bare = randomise_(build_pose_model(decoder), 3).backbone
    ours = check_fits(bare, state)
    assert set(ours) == set(bare.state_dict())


def test_check_fits_refusals(tiny):
    decoder, _, state, _ = tiny
    backbone_only = {
        k: v
        for k, v in state.items() if k.startswith('backbone.')
    }
    with pytest.raises(
            ValueError,
            match="backbone-only checkpoint.*"
            "init_cfg=dict\\(type='Pretrained'"):
        check_fits(build_pose_model(decoder), backbone_only)
    with pytest.raises(
            ValueError,
            match=f'predicts {NUM_KEYPOINTS} keypoints but the model 7 '
            r'\(head\.final_layer\.weight\)'):
        check_fits(build_pose_model(decoder, num_keypoints=7), state)
    with pytest.raises(
            ValueError,
            match=r'backbone\.pos_embed is '
            r'\(1, 13, 32\) in the checkpoint but \(1, 13, 64\)'):
        check_fits(build_pose_model(decoder, embed_dim=64), state)
    with pytest.raises(
            ValueError, match=r'12 missing keys '
            r"\['backbone\.blocks\.2\."):
        check_fits(build_pose_model(decoder, depth=3), state)
    other = 'simple' if decoder == 'classic' else 'classic'
    with pytest.raises(ValueError, match=r'head\.final_layer\.weight is'):
        check_fits(build_pose_model(other), state)


@pytest.mark.parametrize('decoder', DECODERS)
def test_original_fixture_through_converter(decoder):
    """The original ViTPose's own weights and outputs (fixtures), loaded
    strictly into our model after conversion."""
    fx = load_fixture(f'vit_{decoder}.pt')
    cfg = fx['config']['backbone']
    assert detect_layout(fx['state_dict']) == 'original'
    model = build_pose_model(
        decoder,
        num_keypoints=17,
        img_size=tuple(cfg['img_size']),
        embed_dim=cfg['embed_dim'],
        depth=cfg['depth'],
        num_heads=cfg['num_heads'],
        mlp_ratio=cfg['mlp_ratio'])
    model.load_state_dict(check_fits(model, fx['state_dict']), strict=True)
    with torch.no_grad():
        feats = model.backbone(fx['input'])[0]
    torch.testing.assert_close(feats, fx['backbone_output'], rtol=0, atol=1e-5)
    torch.testing.assert_close(
        heatmaps(model, fx['input']), fx['output'], rtol=0, atol=1e-5)


def test_vitpose_plus_heads_through_converter():
    """An original ViTPose+ checkpoint (MoE backbone, one head per dataset)
    into a model with ``heads.<dataset>``, named from the model."""
    from mmpose.models.heads import HeatmapHead

    from vitpose_mm.models.backbones import ViTPosePlusBackbone

    fx = load_fixture('model_split.pt')
    cfg = fx['config']['backbone']
    model = torch.nn.Module()
    model.backbone = ViTPosePlusBackbone(
        img_size=tuple(cfg['img_size']),
        embed_dim=cfg['embed_dim'],
        depth=cfg['depth'],
        num_heads=cfg['num_heads'],
        mlp_ratio=cfg['mlp_ratio'],
        num_expert=cfg['num_expert'],
        part_features=cfg['part_features'])
    model.heads = torch.nn.ModuleDict({
        name:
        HeatmapHead(
            in_channels=cfg['embed_dim'],
            out_channels=k,
            deconv_out_channels=(16, 16),
            deconv_kernel_sizes=(4, 4))
        for name, k in zip(fx['split_names'], fx['split_num_keypoints'])
    })
    ours = check_fits(model, fx['state_dict'])
    assert 'heads.wholebody.final_layer.bias' in ours
    model.load_state_dict(ours, strict=True)
    model.eval()
    with torch.no_grad():
        feats = model.backbone(fx['input'], fx['dataset_idx'])[0]
        for i, d in enumerate(fx['dataset_idx'].tolist()):
            out = model.heads[fx['split_names'][d]]((feats[i:i + 1], ))
            torch.testing.assert_close(
                out, fx['output'][str(d)], rtol=0, atol=1e-5)
    torch.testing.assert_close(feats, fx['backbone_output'], rtol=0, atol=1e-5)
    # ours -> original gives the original keys back, tensor for tensor
    assert_same_state(
        convert_state_dict(ours, to='original'), fx['state_dict'])
    with pytest.raises(ValueError, match='holds one head.*per-dataset'):
        convert_state_dict(ours, to='hf')
    # a model with fewer datasets than the checkpoint has heads
    with pytest.raises(
            ValueError,
            match=r'associate_keypoint_heads\.\d\..*'
            'more heads than the 2 datasets'):
        convert_state_dict(fx['state_dict'], head_names=['coco', 'aic'])
