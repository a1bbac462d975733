"""ViTPose+ checkpoint tools: split per dataset, merge back, experts from a
dense checkpoint, parity with the original ``tools/model_split.py`` and our
MoE backbone, and the ``moe_checkpoint`` CLI."""
import re
import runpy
import sys
import warnings

import pytest
import torch
from mmpose.registry import MODELS
from torch import nn

from tests.checkpoint.helpers import (TINY, build_pose_model, heatmaps,
                                      pose_model_cfg, randomise_)
from tests.checkpoint.test_convert import assert_same_state
from tests.conftest import load_fixture
from vitpose_mm.checkpoint import (check_fits, convert_state_dict,
                                   detect_layout, expert_config, init_experts,
                                   load_state_dict_file, merge_experts,
                                   save_state_dict_file, select_head,
                                   split_experts)
from vitpose_mm.models import ViTPosePlusBackbone
from vitpose_mm.models.backbones import ViTPoseBackbone
from vitpose_mm.tools.moe_checkpoint import main

#: A tiny ViTPose+: 3 experts of P=8 rows on C=32 (shared fc2: 24 rows).
NAMES = ('coco', 'mpii', 'ap10k')
KEYPOINTS = (5, 3, 4)
P = 8
C = TINY['embed_dim']
FC2 = 'backbone.blocks.1.mlp.fc2.'


def moe_model(names=NAMES, keypoints=KEYPOINTS, seed=0) -> nn.Module:
    """Our ViTPose+ keys (``backbone.*``, ``heads.<name>.*``) on a bare
    module, with seeded random weights."""
    model = nn.Module()
    model.backbone = ViTPosePlusBackbone(
        num_expert=len(names), part_features=P, **TINY)
    model.heads = nn.ModuleDict({
        name:
        MODELS.build(pose_model_cfg('classic', k)['head'])
        for name, k in zip(names, keypoints)
    })
    return randomise_(model, seed).eval()


@torch.no_grad()
def moe_heatmaps(model, x, dataset):
    index = torch.full((x.shape[0], ), dataset)
    feats = model.backbone(x, index)
    return feats[0], model.heads[NAMES[dataset]](feats)


@pytest.fixture(scope='module')
def moe():
    """(model, state dict, input batch)."""
    model = moe_model()
    x = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(3))
    return model, model.state_dict(), x


def fake_moe(heads=NAMES, experts=3):
    """A shapes-only ViTPose+ state dict: expert e's rows hold e, head
    ``name``'s tensor holds its position in ``heads``."""
    state = {
        FC2 + 'weight': torch.full((2, 4), -1.),
        FC2 + 'bias': torch.full((2, ), -1.)
    }
    for e in range(experts):
        for part, shape in (('weight', (1, 4)), ('bias', (1, ))):
            key = f'backbone.blocks.1.mlp.experts.{e}.{part}'
            state[key] = torch.full(shape, float(e))
    for i, name in enumerate(heads):
        state[f'heads.{name}.final_layer.bias'] = torch.full((1, ), float(i))
    return state


# ------------------------------------------------------------------ split
@pytest.mark.parametrize('dataset', [0, 1, 2])
def test_split_routes_every_key(moe, dataset):
    model, state, _ = moe
    name = NAMES[dataset]
    plain = split_experts(state, dataset, NAMES)
    # Exactly the keys of a plain ViTPose pose model: no strays.
    expected_keys = build_pose_model(
        'classic', num_keypoints=KEYPOINTS[dataset]).state_dict()
    assert list(plain) == list(expected_keys)
    assert split_experts(state, name, NAMES).keys() == plain.keys()
    for i, block in enumerate(model.backbone.blocks):
        mlp = block.mlp
        for part in ('weight', 'bias'):
            key = f'backbone.blocks.{i}.mlp.fc2.{part}'
            shared, expert = getattr(mlp.fc2,
                                     part), getattr(mlp.experts[dataset], part)
            assert plain[key].shape[0] == C
            assert torch.equal(plain[key][:C - P], shared)
            assert torch.equal(plain[key][C - P:], expert)
    for key, value in model.heads[name].state_dict().items():
        assert plain[f'head.{key}'] is state[f'heads.{name}.{key}']
    assert plain['backbone.blocks.0.attn.qkv.weight'] is \
        state['backbone.blocks.0.attn.qkv.weight']


@pytest.mark.parametrize('dataset', [0, 2])
def test_split_gives_the_moe_output(moe, dataset):
    model, state, x = moe
    plain = build_pose_model('classic', num_keypoints=KEYPOINTS[dataset])
    plain.load_state_dict(
        check_fits(plain, split_experts(state, dataset, NAMES)), strict=True)
    feats, expected = moe_heatmaps(model, x, dataset)
    assert expected.std() > 0.1
    with torch.no_grad():
        torch.testing.assert_close(
            plain.backbone(x)[0], feats, rtol=0, atol=1e-6)
    torch.testing.assert_close(heatmaps(plain, x), expected, rtol=0, atol=1e-6)


def test_split_then_merge_is_exact(moe):
    _, state, _ = moe
    parts = [split_experts(state, d, NAMES) for d in range(len(NAMES))]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        merged = merge_experts(parts, NAMES, P)
    assert_same_state(merged, state)
    assert expert_config(merged) == dict(num_expert=3, part_features=P)


def test_released_order_does_not_depend_on_key_order():
    """safetensors sorts keys: the six released heads keep their order."""
    released = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'wholebody')
    state = fake_moe(released, experts=6)
    shuffled = {k: state[k] for k in sorted(state)}
    plain = split_experts(shuffled, 'mpii')
    assert torch.equal(plain[FC2 + 'bias'], torch.tensor([-1., -1., 2.]))
    assert torch.equal(plain['head.final_layer.bias'], torch.tensor([2.]))
    assert sorted(plain) == [
        FC2 + 'bias', FC2 + 'weight', 'head.final_layer.bias'
    ]
    # an index picks the same dataset
    assert_same_state(split_experts(shuffled, 2), plain)


def test_select_head_keeps_the_experts(moe):
    _, state, _ = moe
    one = select_head(state, 'mpii', NAMES)
    assert expert_config(one) == dict(num_expert=3, part_features=P)
    assert not any(k.startswith('heads.') for k in one)
    assert one['head.final_layer.bias'] is state['heads.mpii.final_layer.bias']


def test_backbone_only_split_by_index():
    state = {k: v for k, v in fake_moe().items() if k.startswith('backbone')}
    plain = split_experts(state, 1)
    assert torch.equal(plain[FC2 + 'bias'], torch.tensor([-1., -1., 1.]))
    with pytest.raises(ValueError, match="Cannot find dataset 'coco' by name"):
        split_experts(state, 'coco')


@pytest.mark.parametrize('dataset, names, match', [
    ('lsp', NAMES, r"Unknown dataset 'lsp'; choose from \['coco', "),
    (3, NAMES, r'dataset index 3 out of range \[0, 3\) for the 3 datasets'),
    (-1, NAMES, r'dataset index -1 out of range \[0, 3\)'),
    (1.0, NAMES, 'dataset must be a name or an index, got 1.0'),
    (0, None, r"expert order of the heads \['ap10k', 'coco', 'mpii'\] is "
     'unknown'),
    (0, NAMES[:2], r"names lists 2 datasets \['coco', 'mpii'\] but the "
     'checkpoint has 3 experts'),
    (0, ('coco', 'mpii', 'aic'), r"heads \['ap10k'\] that are not in names"),
    (0, ('coco', 'coco', 'mpii'), r"names repeats \['coco'\]"),
])
def test_split_refuses_bad_datasets(dataset, names, match):
    with pytest.raises(ValueError, match=match):
        split_experts(fake_moe(), dataset, names)


def test_split_refuses_what_is_no_vitpose_plus(moe):
    with pytest.raises(ValueError, match=r'Not a ViTPose\+ checkpoint'):
        split_experts(build_pose_model('classic').state_dict(), 0)
    state = fake_moe(heads=('coco', 'mpii'))
    with pytest.raises(ValueError, match="no head for dataset 'ap10k'"):
        split_experts(state, 'ap10k', NAMES)


@pytest.mark.parametrize('edit, match', [
    (lambda s: s.pop('backbone.blocks.1.mlp.experts.1.bias'),
     r'experts\.1\.bias is missing'),
    (lambda s: [
        s.pop(f'backbone.blocks.1.mlp.experts.1.{p}')
        for p in ('weight', 'bias')
    ], r'Block 1 has experts \[0, 2\]; expected 0\.\.1'),
    (lambda s: s.__setitem__('backbone.blocks.1.mlp.experts.2.weight',
                             torch.zeros(2, 4)),
     r'experts\.2\.weight is \(2, 4\) but .*experts\.0\.weight is \(1, 4\)'
     ': all experts need one shape'),
    (lambda s: s.update({
        f'backbone.blocks.0.mlp.{k}': v
        for k, v in [('fc2.weight', torch.zeros(2, 4)),
                     ('experts.0.weight', torch.zeros(1, 4)),
                     ('experts.0.bias', torch.zeros(1))]
    }), 'Block 1 has 3 experts but block 0 has 1'),
    (lambda s: s.__setitem__('backbone.blocks.1.mlp.experts.0.weight',
                             torch.zeros(1, 5)),
     r'experts\.0\.weight is \(1, 5\) but the shared .*fc2\.weight is '
     r'\(2, 4\)'),
    (lambda s: s.update({'backbone.blocks.0.mlp.fc2.weight': torch.zeros(3)}),
     r'Blocks \[0\] have no experts while blocks \[1\] have'),
])
def test_inconsistent_experts_are_named(edit, match):
    state = fake_moe()
    edit(state)
    with pytest.raises(ValueError, match=match):
        expert_config(state)


# ------------------------------------------------------------------ merge
@pytest.fixture(scope='module')
def parts(moe):
    return [split_experts(moe[1], d, NAMES) for d in range(len(NAMES))]


def test_merge_of_differing_backbones_warns_and_takes_one(moe, parts):
    """Independently fine-tuned inputs: shared tensors from one input."""
    edited = [dict(p) for p in parts]
    qkv = 'backbone.blocks.0.attn.qkv.weight'
    edited[1][qkv] = parts[1][qkv] + 0.5
    fc2 = edited[2][FC2 + 'weight'].clone()
    fc2[0] += 0.25  # a shared row
    fc2[-1] += 4.0  # an expert row: no conflict
    edited[2][FC2 + 'weight'] = fc2
    with pytest.warns(
            UserWarning,
            match=r"2 shared tensors differ .*largest: .*qkv\.weight, max "
            r"abs diff 0\.5 between 'coco' and 'mpii'.* taken from 'coco'"):
        merged = merge_experts(edited, NAMES, P)
    assert torch.equal(merged[qkv], parts[0][qkv])
    assert torch.equal(merged[FC2 + 'weight'], parts[0][FC2 + 'weight'][:-P])
    expert = 'backbone.blocks.1.mlp.experts.2.weight'
    assert torch.equal(merged[expert], fc2[-P:])
    with pytest.warns(UserWarning, match="taken from 'mpii'"):
        merged = merge_experts(edited, NAMES, P, shared_from='mpii')
    assert torch.equal(merged[qkv], edited[1][qkv])
    with pytest.warns(UserWarning, match="taken from 'ap10k'"):
        merged = merge_experts(edited, NAMES, P, shared_from=2)
    assert torch.equal(merged[FC2 + 'weight'], fc2[:-P])
    with pytest.raises(ValueError, match='2 shared tensors differ'):
        merge_experts(edited, NAMES, P, strict=True)


def _reshape(parts, key, shape):
    out = [dict(p) for p in parts]
    out[1][key] = torch.zeros(shape)
    return out


@pytest.mark.parametrize('make, kwargs, match', [
    (lambda ps: _reshape(ps, 'backbone.blocks.0.attn.qkv.weight', (90, 32)),
     {}, r"blocks\.0\.attn\.qkv\.weight is \(96, 32\) torch\.float32 in "
     r"'coco' but \(90, 32\) torch\.float32 in 'mpii'"),
    (lambda ps: [ps[0], {
        k: v.half()
        for k, v in ps[1].items()
    }, ps[2]], {},
     r'torch\.float32 in .coco. but .* torch\.float16 in .mpii.'),
    (lambda ps:
     [ps[0], {
         k: v
         for k, v in ps[1].items() if 'last_norm' not in k
     }, ps[2]], {},
     r"different backbone keys: \['backbone\.last_norm\.weight', "
     r"'backbone\.last_norm\.bias'\] only in 'coco'"),
    (lambda ps: ps[:2], {}, r"2 state dicts but 3 names"),
    (lambda ps: [], dict(names=()), 'at least one state dict'),
    (lambda ps: ps, dict(names=('coco', 'mpii', 'coco')),
     r"names repeat \['coco'\]"),
    (lambda ps: ps, dict(names=('coco', 'mpii', 'ap-10k')),
     "'ap-10k' is not an identifier"),
    (lambda ps: ps, dict(part_features=33),
     r'part_features=33 does not fit .*fc2\.weight with 32 rows'),
    (lambda ps: ps, dict(part_features=0), 'positive int, got 0'),
    (lambda ps: ps, dict(shared_from='aic'),
     r"Unknown shared_from 'aic'; choose from \['coco', "),
    (lambda ps: ps, dict(shared_from=3),
     r'shared_from index 3 out of range \[0, 3\)'),
    (lambda ps: [
        ps[0], {
            k: v
            for k, v in ps[1].items() if not k.startswith('head.')
        }, ps[2]
    ], {}, r"with \['coco', 'ap10k'\], without \['mpii'\]"),
    (lambda ps: [ps[0], fake_moe(), ps[2]], {},
     r"Input 'mpii' is already a ViTPose\+"),
    (lambda ps: [{
        k: v
        for k, v in p.items() if 'fc2' not in k
    } for p in ps], {}, "'coco' has no backbone.blocks.N.mlp.fc2"),
])
def test_merge_refuses_bad_input(parts, make, kwargs, match):
    args = dict(names=NAMES, part_features=P)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        merge_experts(make(parts), **args)


def test_merge_loads_into_the_estimator(parts):
    """The merged keys are those of ViTPosePlusEstimator, which then
    computes each input's plain model on its dataset."""
    cfg = dict(
        type='ViTPosePlusEstimator',
        backbone=dict(
            type='ViTPosePlusBackbone', num_expert=2, part_features=P, **TINY),
        head=pose_model_cfg('classic', 17)['head'],
        datasets=[
            dict(name='coco', dataset_type='CocoDataset'),
            dict(
                name='mpii',
                dataset_type='MpiiDataset',
                head=dict(out_channels=16))
        ])
    estimator = MODELS.build(cfg).eval()
    plains = [
        randomise_(build_pose_model('classic', num_keypoints=k), 40 + k)
        for k in (17, 16)
    ]
    # One backbone (the first's), each with its own expert rows and head.
    with torch.no_grad():
        for key, value in plains[0].state_dict().items():
            if key.startswith('head.'):
                continue
            target = plains[1].state_dict()[key]
            if '.mlp.fc2.' in key:
                target[:C - P] = value[:C - P]
            else:
                target.copy_(value)
    merged = merge_experts([p.state_dict() for p in plains], ['coco', 'mpii'],
                           P,
                           strict=True)
    estimator.load_state_dict(check_fits(estimator, merged), strict=True)
    x = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(5))
    for name, plain in zip(('coco', 'mpii'), plains):
        estimator.set_dataset(name)
        with torch.no_grad():
            got = estimator(x, None, mode='tensor')
        torch.testing.assert_close(got, heatmaps(plain, x), rtol=0, atol=1e-6)


# ----------------------------------------------------------- init experts
def dense_backbone(seed=9):
    return randomise_(ViTPoseBackbone(**TINY), seed).eval()


def test_init_experts_equals_the_dense_model_on_every_index():
    dense = dense_backbone()
    state = {f'backbone.{k}': v for k, v in dense.state_dict().items()}
    state['head.final_layer.weight'] = torch.zeros(5, C, 1, 1)
    with pytest.warns(
            UserWarning, match=r'Dropped 1 tensors .*head\.final_layer'):
        ours = init_experts(state, 3, P)
    assert expert_config(ours) == dict(num_expert=3, part_features=P)
    # each dataset's plain model is the dense one, tensor for tensor
    for d in range(3):
        assert_same_state(
            split_experts(ours, d), {
                k: v
                for k, v in state.items() if k.startswith('backbone.')
            })
    moe = ViTPosePlusBackbone(num_expert=3, part_features=P, **TINY).eval()
    moe.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in ours.items()
    },
                        strict=True)
    x = torch.randn(3, 3, 64, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = dense(x)[0]
        for index in ([0, 0, 0], [1, 1, 1], [2, 2, 2], [0, 2, 1]):
            torch.testing.assert_close(
                moe(x, torch.tensor(index))[0], expected, rtol=0, atol=1e-6)


def test_init_experts_from_an_mae_file_through_init_cfg(tmp_path, capsys):
    """MAE file -> CLI init-experts -> the backbone's Pretrained init."""
    from tests.checkpoint.test_mae_init import fake_mae_file
    mae = fake_mae_file(tmp_path / 'mae.pth')
    out = tmp_path / 'mae_moe.safetensors'
    code, text, err = run(capsys, 'init-experts', tmp_path / 'mae.pth', out,
                          '--part-features', P, '--num-expert', 3)
    assert code == 0, err
    assert '(mae)' in text and '3 experts of 8 rows' in text
    backbone = ViTPosePlusBackbone(
        num_expert=3,
        part_features=P,
        img_size=(256, 192),
        embed_dim=C,
        depth=2,
        num_heads=4,
        init_cfg=dict(type='Pretrained', checkpoint=str(out)))
    backbone.init_weights()
    own = backbone.state_dict()
    fc2 = mae['blocks.1.mlp.fc2.weight']
    assert torch.equal(own['blocks.1.mlp.fc2.weight'], fc2[:C - P])
    for e in range(3):
        assert torch.equal(own[f'blocks.1.mlp.experts.{e}.weight'],
                           fc2[C - P:])
    assert torch.equal(own['blocks.0.attn.qkv.weight'],
                       mae['blocks.0.attn.qkv.weight'])


@pytest.mark.parametrize('state, args, match', [
    (fake_moe(), (3, P), 'already has experts'),
    ({
        'backbone.pos_embed': torch.zeros(1, 2, 4)
    }, (3, P), 'No backbone.blocks.N.mlp.fc2'),
    ({
        FC2 + 'weight': torch.zeros(4, 8)
    }, (3, 5), r'part_features=5 does not fit .*fc2\.weight with 4 rows'),
    ({
        FC2 + 'weight': torch.zeros(4, 8)
    }, (0, 2), 'num_expert must be a positive int, got 0'),
])
def test_init_experts_refusals(state, args, match):
    with pytest.raises(ValueError, match=match):
        init_experts(state, *args)


# ----------------------------------------------------- converter / fit
def test_converter_refusals_for_vitpose_plus(moe, parts):
    _, state, _ = moe
    with pytest.raises(ValueError, match="mmpretrain's ViT has no MoE FFN"):
        convert_state_dict(select_head(state, 0, NAMES), to='mmpose')
    one = merge_experts(parts[:1], NAMES[:1], P)
    with pytest.raises(ValueError, match='dense MLP for num_experts=1'):
        convert_state_dict(select_head(one, 0, NAMES[:1]), to='hf')
    with pytest.raises(ValueError, match='no per-dataset heads'):
        convert_state_dict(parts[0], to='hf', dataset='coco')
    plain = build_pose_model('classic', num_keypoints=KEYPOINTS[0])
    with pytest.raises(
            ValueError,
            match=r"ViTPose\+ \(3 experts\) but the "
            'model is a plain ViTPose; split'):
        check_fits(plain, state)
    moe_backbone = ViTPosePlusBackbone(num_expert=3, part_features=P, **TINY)
    with pytest.raises(
            ValueError, match='plain ViTPose; merge .*init-experts'):
        check_fits(moe_backbone, parts[0])


def test_original_layout_heads_follow_the_dataset_order(moe):
    """Written in names order, whatever order the keys come in."""
    _, state, _ = moe
    shuffled = {k: state[k] for k in sorted(state)}  # ap10k's head first
    orig = convert_state_dict(shuffled, to='original', head_names=NAMES)
    assert detect_layout(orig) == 'original'
    assert torch.equal(orig['keypoint_head.final_layer.bias'],
                       state['heads.coco.final_layer.bias'])
    assert torch.equal(orig['associate_keypoint_heads.1.final_layer.bias'],
                       state['heads.ap10k.final_layer.bias'])
    assert_same_state(convert_state_dict(orig, head_names=NAMES), state)


# ------------------------------------------------- original model_split
def plain_fixture_model(fx, num_keypoints):
    """The original's plain TopDown(ViT + head) of the fixture, ours."""
    cfg = fx['config']['backbone']
    head = fx['config']['keypoint_head']
    model_cfg = pose_model_cfg(
        'classic',
        num_keypoints,
        img_size=tuple(cfg['img_size']),
        embed_dim=cfg['embed_dim'],
        depth=cfg['depth'],
        num_heads=cfg['num_heads'],
        mlp_ratio=cfg['mlp_ratio'])
    model_cfg['head'].update(
        deconv_out_channels=tuple(head['num_deconv_filters']),
        deconv_kernel_sizes=tuple(head['num_deconv_kernels']))
    return MODELS.build(model_cfg).eval()


STRAY = (r'backbone\.blocks\.\d+\.mlp\.experts\.\d+\.',
         r'associate_keypoint_heads\.')


@pytest.mark.parametrize('dataset', ['0', '3'])
def test_split_matches_the_original_model_split(dataset):
    fx = load_fixture('model_split.pt')
    d, name = int(dataset), fx['split_names'][int(dataset)]
    ours = convert_state_dict(fx['state_dict'], head_names=fx['split_names'])
    plain = split_experts(ours, name)
    assert_same_state(split_experts(ours, d), plain)
    # the same tensors as the original tool, without its stray keys
    tool = fx['split'][dataset]['state_dict']
    orig = convert_state_dict(plain, to='original')
    stray = {k for k in tool if any(re.match(p, k) for p in STRAY)}
    assert stray and set(orig) == set(tool) - stray
    for key, value in orig.items():
        assert torch.equal(value, tool[key]), key
    # loads strictly into the plain model and reproduces both outputs
    model = plain_fixture_model(fx, fx['split_num_keypoints'][d])
    model.load_state_dict(check_fits(model, plain), strict=True)
    rows = (fx['dataset_idx'] == d).nonzero(as_tuple=True)[0]
    x = fx['input'][rows]
    with torch.no_grad():
        feats = model.backbone(x)[0]
    torch.testing.assert_close(
        feats, fx['plain_vit'][dataset]['backbone_output'], rtol=0, atol=1e-5)
    torch.testing.assert_close(
        feats, fx['backbone_output'][rows], rtol=0, atol=1e-5)
    out = heatmaps(model, x)
    torch.testing.assert_close(
        out, fx['plain_vit'][dataset]['output'], rtol=0, atol=1e-5)
    torch.testing.assert_close(out, fx['output'][dataset], rtol=0, atol=1e-5)


# --------------------------------------------------------------------- CLI
def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_split_an_original_checkpoint(tmp_path, capsys):
    fx = load_fixture('model_split.pt')
    src = tmp_path / 'vitpose+_tiny.pth'
    torch.save({'state_dict': fx['state_dict']}, src)
    dst = tmp_path / 'ap10k.pth'
    code, out, err = run(capsys, 'split', src, dst, '--dataset', 'ap10k',
                         '--to', 'original')
    assert code == 0, err
    assert out.startswith('ap10k (expert 3 of 6) of ') and '(original)' in out
    ours = convert_state_dict(fx['state_dict'], head_names=fx['split_names'])
    expected = convert_state_dict(split_experts(ours, 3), to='original')
    assert_same_state(load_state_dict_file(str(dst)), expected)
    # the index does the same
    assert run(capsys, 'split', src, tmp_path / '3.pth', '--dataset', 3,
               '--to', 'original')[0] == 0
    assert_same_state(load_state_dict_file(str(tmp_path / '3.pth')), expected)


def test_cli_split_and_merge_round_trip(tmp_path, capsys, moe):
    _, state, _ = moe
    src = tmp_path / 'moe.safetensors'  # sorted keys on disk
    save_state_dict_file(state, str(src))
    names = ','.join(NAMES)
    files = []
    for name in NAMES:
        files.append(tmp_path / f'{name}.safetensors')
        code, _, err = run(capsys, 'split', src, files[-1], '--dataset', name,
                           '--datasets', names)
        assert code == 0, err
    dst = tmp_path / 'merged.pth'
    code, out, err = run(capsys, 'merge', dst, *files, '--datasets', names,
                         '--part-features', P, '--strict')
    assert code == 0, err
    assert '3 experts of 8 rows' in out
    assert_same_state(load_state_dict_file(str(dst)), state)


def test_cli_merge_files_of_the_original_tool(tmp_path, capsys):
    """coco.pth / ap10k.pth of the original model_split.py (stray experts
    and associate heads included) merge into a two-dataset ViTPose+."""
    fx = load_fixture('model_split.pt')
    files = []
    for dataset in ('0', '3'):
        files.append(tmp_path / fx['split'][dataset]['file'])
        torch.save({'state_dict': fx['split'][dataset]['state_dict']},
                   files[-1])
    dst = tmp_path / 'coco_ap10k.pth'
    code, _, err = run(capsys, 'merge', dst, *files, '--datasets',
                       'coco,ap10k', '--part-features', 96, '--strict', '--to',
                       'original')
    assert code == 0, err
    merged = load_state_dict_file(str(dst))
    # The ViTPose+ original keys of experts 0 and 3 and their heads,
    # renumbered as datasets 0 and 1; nothing else.
    kept = {
        'experts.0.': 'experts.0.',
        'experts.3.': 'experts.1.',
        'associate_keypoint_heads.2.': 'associate_keypoint_heads.0.'
    }

    def expected_key(key):
        m = re.search(r'(experts|associate_keypoint_heads)\.\d+\.', key)
        if m is None:
            return key
        return key.replace(m[0], kept[m[0]]) if m[0] in kept else None

    expected = {
        expected_key(k): v
        for k, v in fx['state_dict'].items() if expected_key(k)
    }
    assert_same_state(merged, expected)


def test_cli_merge_warns_in_one_line(tmp_path, capsys, parts):
    edited = dict(parts[1])
    edited['backbone.last_norm.bias'] = edited['backbone.last_norm.bias'] + 1
    files = [tmp_path / 'a.pth', tmp_path / 'b.pth']
    for path, state in zip(files, (parts[0], edited)):
        torch.save(state, path)
    code, _, err = run(capsys, 'merge', tmp_path / 'ab.pth', *files,
                       '--datasets', 'coco,mpii', '--part-features', P)
    assert code == 0
    assert err.count('\n') == 1
    assert err.startswith('moe_checkpoint: warning: 1 shared tensors differ')
    code, _, err = run(capsys, 'merge', tmp_path / 'ab.pth', *files,
                       '--datasets', 'coco,mpii', '--part-features', P,
                       '--strict')
    assert code == 1 and err.count('\n') == 1
    assert err.startswith('moe_checkpoint: error: 1 shared tensors differ')


@pytest.fixture(scope='module')
def cli_files(tmp_path_factory, moe, parts):
    folder = tmp_path_factory.mktemp('cli')
    paths = {
        name: folder / f'{name}.pth'
        for name in ('moe', 'out', 'coco', 'mpii', 'wide', 'missing')
    }
    torch.save(moe[1], paths['moe'])
    torch.save(parts[0], paths['coco'])
    torch.save(parts[1], paths['mpii'])
    torch.save(
        build_pose_model('classic', embed_dim=48).state_dict(), paths['wide'])
    return paths


@pytest.mark.parametrize('argv, match', [
    (('split', '{moe}', '{out}', '--dataset', 'lsp', '--datasets',
      ','.join(NAMES)), "Unknown dataset 'lsp'"),
    (('split', '{moe}', '{out}', '--dataset', '7', '--datasets',
      ','.join(NAMES)), r'dataset index 7 out of range \[0, 3\)'),
    (('split', '{moe}', '{out}', '--dataset', '0'),
     'expert order of the heads'),
    (('split', '{moe}', '{moe}', '--dataset', '0'), 'DST must differ'),
    (('merge', '{out}', '{coco}', '{mpii}', '--datasets', 'coco',
      '--part-features', '8'), r'2 inputs but 1 names'),
    (('merge', '{out}', '{coco}', '{wide}', '--datasets', 'coco,mpii',
      '--part-features', '8'), r"is \(1, 13, 32\) torch\.float32 in 'coco' "
     r"but \(1, 13, 48\) torch\.float32 in 'mpii'"),
    (('init-experts', '{coco}', '{out}', '--part-features', '64'),
     'part_features=64 does not fit'),
    (('split', '{missing}', '{out}', '--dataset', '0'), 'No checkpoint file'),
])
def test_cli_errors_are_one_line(capsys, cli_files, argv, match):
    paths = cli_files
    code, _, err = run(capsys, *[a.format(**paths) for a in argv])
    assert code == 1
    assert err.count('\n') == 1 and err.startswith('moe_checkpoint: error: ')
    assert 'Traceback' not in err
    assert re.search(match, err), err
    assert not paths['out'].exists()


@pytest.mark.filterwarnings('ignore::RuntimeWarning')  # runpy re-import
def test_cli_module_entry_and_help(capsys, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['moe_checkpoint', '--help'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(
            'vitpose_mm.tools.moe_checkpoint', run_name='__main__')
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert '{split,merge,init-experts}' in out
    with pytest.raises(SystemExit) as exit_info:
        main(['split', 'a.pth', 'b.pth'])
    assert exit_info.value.code == 2
    assert '--dataset' in capsys.readouterr().err


def test_cli_converter_keeps_one_dataset_head_for_hf(tmp_path, capsys, moe):
    from vitpose_mm.tools.convert_checkpoint import main as convert_main
    _, state, _ = moe
    src, dst = tmp_path / 'plus.pth', tmp_path / 'plus_mpii.safetensors'
    torch.save({'state_dict': state}, src)
    assert convert_main([str(src), str(dst), '--to', 'hf']) == 1
    assert 'dataset' in capsys.readouterr().err
    assert convert_main([str(src), str(dst), '--to', 'hf', '--dataset',
                         'mpii', '--datasets', ','.join(NAMES)]) == 0
    back = convert_state_dict(load_state_dict_file(dst), src='hf')
    assert torch.equal(back['head.final_layer.weight'],
                       state['heads.mpii.final_layer.weight'])
    assert torch.equal(back[FC2 + 'weight'], state[FC2 + 'weight'])
