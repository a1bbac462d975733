"""ViTPose+ estimator: per-dataset routing of loss and prediction, dataset
selection at inference, errors, and parity with the original TopDownMoE."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

from tests.conftest import REPO, load_fixture, require_shared
from vitpose_mm.datasets import APT36K_METAINFO
from vitpose_mm.models import ViTPosePlusEstimator

CODEC = dict(type='ViTPoseUDPHeatmap', input_size=(48, 64),
             heatmap_size=(12, 16), sigma=2)
# Four datasets with 17 / 14 / 16 / 133 keypoints.
DATASETS = [
    dict(name='coco', dataset_type='CocoDataset'),
    dict(name='aic', dataset_type='AicDataset', head=dict(out_channels=14)),
    dict(name='mpii', dataset_type='MpiiDataset', head=dict(out_channels=16)),
    dict(name='wholebody', dataset_type='CocoWholeBodyDataset',
         head=dict(out_channels=133)),
]
NUM_KEYPOINTS = dict(coco=17, aic=14, mpii=16, wholebody=133)
TEST_CFG = dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False,
                output_heatmaps=True)


def config(datasets=DATASETS, num_expert=None, **kwargs):
    return dict(
        type='ViTPosePlusEstimator',
        backbone=dict(
            type='ViTPosePlusBackbone', num_expert=num_expert or
            len(datasets), part_features=16, img_size=(64, 48),
            embed_dim=32, depth=2, num_heads=2, mlp_ratio=2),
        head=dict(
            type='HeatmapHead', in_channels=32, out_channels=17,
            deconv_out_channels=(16, 16), deconv_kernel_sizes=(4, 4),
            loss=dict(type='KeypointMSELoss', use_target_weight=True),
            decoder=CODEC),
        datasets=datasets, **kwargs)


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(config(**kwargs))
    # Random BN statistics so that every head differs in eval mode too.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model


def sample(name=None, index=None, seed=0, flip_indices=None):
    """A packed top-down sample; ``name`` gives targets of its K."""
    meta = dict(input_size=np.array([48, 64]),
                input_center=np.array([100., 80.]),
                input_scale=np.array([96., 128.]), flip_indices=flip_indices)
    if index is not None:
        meta['dataset_index'] = index
    data = PoseDataSample(metainfo=meta)
    data.gt_instances = InstanceData(
        bboxes=torch.tensor([[52., 16., 148., 144.]]),
        bbox_scores=torch.ones(1))
    if name is not None:
        g = torch.Generator().manual_seed(seed)
        k = NUM_KEYPOINTS[name]
        data.gt_fields = PixelData(heatmaps=torch.rand(k, 16, 12, generator=g))
        data.gt_instance_labels = InstanceData(
            keypoint_weights=(torch.rand(1, k, generator=g) > 0.2).float())
    return data


def batch(names, with_index=True):
    index = {n: i for i, n in enumerate(NUM_KEYPOINTS)}
    samples = [sample(n, index[n] if with_index else None, seed=i)
               for i, n in enumerate(names)]
    g = torch.Generator().manual_seed(1)
    return torch.randn(len(names), 3, 64, 48, generator=g), samples


def head_alone(model, name, inputs, expert):
    """Heatmaps of one head on its expert's features (no estimator)."""
    index = torch.full((inputs.shape[0], ), expert)
    return model.heads[name](model.backbone(inputs, index))


def test_registered_and_state_dict_keys():
    model = build()
    assert type(model) is ViTPosePlusEstimator
    assert model.dataset_names == ['coco', 'aic', 'mpii', 'wholebody']
    state = model.state_dict()
    for name, k in NUM_KEYPOINTS.items():
        assert state[f'heads.{name}.final_layer.weight'].shape[0] == k
    assert not any(key.startswith('head.') for key in state)


def test_each_sample_is_predicted_by_its_own_head():
    model = build(test_cfg=TEST_CFG).eval()
    names = ['wholebody', 'coco', 'mpii', 'aic', 'coco']
    inputs, samples = batch(names)
    # Wrong flip indices in the samples: the head's dataset's must be used.
    for s in samples:
        s.set_metainfo(dict(flip_indices=list(range(17))))
    with torch.no_grad():
        results = model.predict(inputs, samples)
        for i, name in enumerate(names):
            d = model.dataset_names.index(name)
            x = inputs[i:i + 1]
            flipped = flip_heatmaps(
                head_alone(model, name, x.flip(-1), d), flip_mode='heatmap',
                flip_indices=model.dataset_metas[name]['flip_indices'],
                shift_heatmap=False)
            expected = (head_alone(model, name, x, d) + flipped) * 0.5
            got = results[i].pred_fields.heatmaps
            assert got.shape == (NUM_KEYPOINTS[name], 16, 12)
            torch.testing.assert_close(got, expected[0], rtol=1e-4,
                                       atol=1e-5)
            assert results[i].pred_instances.keypoints.shape == (
                1, NUM_KEYPOINTS[name], 2)


def test_loss_of_each_dataset_comes_from_its_head_on_its_samples():
    model = build().train()
    names = ['coco', 'aic', 'coco', 'wholebody', 'mpii', 'aic']
    inputs, samples = batch(names)
    losses = model.loss(inputs, samples)
    assert set(losses) == {f'{k}_{n}' for k in ('loss_kpt', 'acc_pose')
                           for n in NUM_KEYPOINTS}
    for name in NUM_KEYPOINTS:
        rows = [i for i, n in enumerate(names) if n == name]
        d = model.dataset_names.index(name)
        feats = model.backbone(inputs[rows], torch.full((len(rows), ), d))
        alone = model.heads[name].loss(feats, [samples[i] for i in rows])
        share = len(rows) / len(names)
        torch.testing.assert_close(losses[f'loss_kpt_{name}'],
                                   alone['loss_kpt'] * share, rtol=1e-4,
                                   atol=1e-7)
        torch.testing.assert_close(losses[f'acc_pose_{name}'],
                                   alone['acc_pose'])


def test_batch_without_some_datasets_trains_every_parameter():
    model = build().train()
    inputs, samples = batch(['mpii', 'coco', 'mpii'])
    losses = model.loss(inputs, samples)
    assert {k for k in losses if k.startswith('loss')} == {
        'loss_kpt_coco', 'loss_kpt_mpii'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for key, param in model.named_parameters():
        assert param.grad is not None, f'{key} is out of the graph (DDP)'
    for name in ('aic', 'wholebody'):
        for param in model.heads[name].parameters():
            assert torch.count_nonzero(param.grad) == 0
    assert torch.count_nonzero(model.heads['coco'].final_layer.weight.grad)


def test_loss_needs_dataset_index_with_several_datasets():
    model = build().train()
    inputs, samples = batch(['coco', 'aic'], with_index=False)
    with pytest.raises(ValueError, match='needs a dataset_index in each'):
        model.loss(inputs, samples)
    # A selected inference dataset does not stand in for training labels.
    model.set_dataset('coco')
    with pytest.raises(ValueError, match='needs a dataset_index in each'):
        model.loss(inputs, samples)


def test_single_dataset_model_needs_no_index():
    model = build(datasets=DATASETS[:1]).train()
    inputs, samples = batch(['coco', 'coco'], with_index=False)
    assert set(model.loss(inputs, samples)) == {'loss_kpt_coco',
                                                'acc_pose_coco'}
    assert model.dataset_meta['dataset_name'] == 'coco'


@pytest.mark.parametrize('indices,match', [
    ([0, None], r'Samples \[1\] of the batch have no dataset_index'),
    ([0, 4], r'dataset_index \[4\] out of range'),
    ([-1, 0], r'dataset_index \[-1\] out of range'),
])
def test_bad_dataset_index(indices, match):
    model = build(test_cfg=TEST_CFG).eval()
    inputs = torch.randn(2, 3, 64, 48)
    samples = [sample(index=i) for i in indices]
    with pytest.raises(ValueError, match=match):
        model.predict(inputs, samples)


def test_inference_needs_an_index_or_a_selected_dataset():
    model = build(test_cfg=TEST_CFG).eval()
    with pytest.raises(ValueError, match=r'or set_dataset\(NAME\); got none'):
        model.predict(torch.randn(1, 3, 64, 48), [sample()])


@pytest.mark.parametrize('how', ['set_dataset', 'test_cfg'])
def test_dataset_selected_by_name_at_inference(how):
    if how == 'test_cfg':
        model = build(test_cfg=dict(TEST_CFG, dataset='aic')).eval()
    else:
        model = build(test_cfg=TEST_CFG).eval()
        assert model.set_dataset('aic') is model
    inputs = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        results = model.predict(inputs, [sample(), sample()])
        expected = head_alone(model, 'aic', inputs, 1)
        tensor = model(inputs, None, mode='tensor')
    for i in range(2):
        assert results[i].pred_instances.keypoints.shape == (1, 14, 2)
    torch.testing.assert_close(tensor, expected)
    # Visualisation and mmpose's inference API read dataset_meta; an
    # assignment (as mmpose's init_model does) does not undo the choice.
    model.dataset_meta = dict(dataset_name='coco')
    assert model.dataset_meta['dataset_name'] == 'aic'
    assert model.dataset_meta['num_keypoints'] == 14
    model.set_dataset(None)
    assert model.dataset_meta == dict(dataset_name='coco')


def test_sample_index_wins_over_the_selected_dataset():
    model = build(test_cfg=dict(TEST_CFG, dataset='aic')).eval()
    with torch.no_grad():
        results = model.predict(torch.randn(1, 3, 64, 48),
                                [sample(index=3)])
    assert results[0].pred_instances.keypoints.shape == (1, 133, 2)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=r"Unknown dataset 'ap10k'; this "
                       r"model has \['coco', 'aic', 'mpii', 'wholebody'\]"):
        build().set_dataset('ap10k')
    with pytest.raises(ValueError, match="Unknown dataset 'body'"):
        build(test_cfg=dict(dataset='body'))


def test_mmpose_inference_api_with_a_dataset_config():
    """mmpose's inference_topdown on a real AIC image with the ViTPose+
    AIC test config: AIC's expert, head, keypoints and dataset_meta."""
    from mmengine.config import Config
    from mmpose.apis import inference_topdown
    image = require_shared('data/aic/054d9ce9201beffc76e5ff2169d2af2f027002ca'
                           '.jpg')
    cfg = Config.fromfile(str(
        REPO / 'configs/body_2d_keypoint/topdown_heatmap/vitpose_plus/'
        'vitpose-mm_td-hm_ViTPose-plus-base_test-on-aic-256x192.py'))
    cfg.merge_from_dict(dict(model=dict(
        backbone=dict(arch=None, embed_dim=32, depth=1, num_heads=2,
                      part_features=8),
        head=dict(in_channels=32, deconv_out_channels=(16, 16)))))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.cfg = cfg
    # What mmpose's init_model does with a checkpoint's meta.
    model.dataset_meta = dict(dataset_name='coco_wholebody')
    results = inference_topdown(model, str(image),
                                np.array([[100., 50., 400., 550.]]))
    assert results[0].pred_instances.keypoints.shape == (1, 14, 2)
    assert model.dataset_meta['dataset_name'] == 'aic'
    assert results[0].metainfo['dataset_index'] == 1


def test_tensor_mode_refuses_mixed_datasets():
    model = build().eval()
    with pytest.raises(ValueError, match='one dataset per batch'):
        model(torch.randn(2, 3, 64, 48), [sample(index=0), sample(index=1)],
              mode='tensor')


def test_metainfo_entry_and_apt36k():
    datasets = [dict(name='ap10k', dataset_type='AP10KDataset'),
                dict(name='apt36k', metainfo=APT36K_METAINFO)]
    model = build(datasets=datasets, test_cfg=dict(dataset='apt36k'))
    meta = model.dataset_meta
    assert meta['dataset_name'] == 'apt36k' and meta['num_keypoints'] == 17
    assert meta['flip_indices'] == \
        model.dataset_metas['ap10k']['flip_indices']


@pytest.mark.parametrize('change,match', [
    (dict(datasets=[dict(name='aic', dataset_type='AicDataset')]),
     r"out_channels=17 but its metainfo \('aic'\) has 14 keypoints"),
    (dict(num_expert=6), r'num_expert=6 but 4 datasets'),
    (dict(datasets=[dict(name='coco', dataset_type='CocoDataset')] * 2),
     "'coco' is used twice"),
    (dict(datasets=[dict(name='coco')]),
     "exactly one of 'dataset_type' and 'metainfo'"),
    (dict(datasets=[dict(name='coco', dataset_type='CocoDataset',
                         metainfo=APT36K_METAINFO)]),
     "exactly one of 'dataset_type' and 'metainfo'"),
    (dict(datasets=[dict(name='coco', dataset_type='Coco')]),
     "'Coco' is not a registered dataset"),
    (dict(datasets=[dict(name='coco', dataset_type='CocoDataset',
                         flip=True)]), r"unknown keys \['flip'\]"),
    (dict(datasets=[dict(name='coco.body', dataset_type='CocoDataset')]),
     'must be an identifier'),
    (dict(datasets=[]), 'at least one dataset'),
])
def test_constructor_errors(change, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(config(**change))


def test_parity_with_original_topdown_moe():
    """The original TopDownMoE checkpoint, its heads mapped to
    ``heads.<name>``, gives the original's per-dataset heatmaps."""
    fx = load_fixture('model_split.pt')
    names = fx['split_names']
    backbone = {k: v for k, v in fx['config']['backbone'].items()
                if k != 'type'}
    heads = [dict(name=n, dataset_type=t, head=dict(out_channels=k))
             for n, t, k in zip(names, [
                 'CocoDataset', 'AicDataset', 'MpiiDataset', 'AP10KDataset',
                 'ViTPoseAPT36KDataset', 'CocoWholeBodyDataset'],
                 fx['split_num_keypoints'])]
    model = MODELS.build(dict(
        type='ViTPosePlusEstimator',
        backbone=dict(type='ViTPosePlusBackbone', **backbone),
        head=dict(type='HeatmapHead', in_channels=backbone['embed_dim'],
                  out_channels=17, deconv_out_channels=(16, 16),
                  deconv_kernel_sizes=(4, 4), decoder=dict(
                      CODEC, input_size=(96, 128), heatmap_size=(24, 32))),
        datasets=heads,
        test_cfg=dict(flip_test=False, output_heatmaps=True))).eval()
    state = {}
    for key, value in fx['state_dict'].items():
        if key.startswith('keypoint_head.'):
            key = f'heads.{names[0]}.' + key[len('keypoint_head.'):]
        elif key.startswith('associate_keypoint_heads.'):
            n, rest = key[len('associate_keypoint_heads.'):].split('.', 1)
            key = f'heads.{names[int(n) + 1]}.{rest}'
        state[key] = value
    model.load_state_dict(state, strict=True)
    samples = [sample(index=int(i)) for i in fx['dataset_idx']]
    with torch.no_grad():
        results = model.predict(fx['input'], samples)
    for i, d in enumerate(fx['dataset_idx'].tolist()):
        torch.testing.assert_close(results[i].pred_fields.heatmaps,
                                   fx['output'][str(d)][0], rtol=0,
                                   atol=1e-5)
