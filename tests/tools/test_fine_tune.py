"""Fine-tuning a trained ViTPose on another keypoint set (issue 22 item 1):
MPII's 16 keypoints and a made-up 5-keypoint set built from the COCO
annotations, from a COCO checkpoint the suite trains; a new ViTPose+
dataset; and the refusals along the way."""
import argparse
import json

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint
from mmpose.registry import MODELS

from tests.conftest import REPO, require_shared
from tests.models.test_vitpose_plus_estimator import DATASETS
from tests.models.test_vitpose_plus_estimator import build as build_plus
from tests.tools.test_train_test import CONFIG, TINY_RUN, run_tool
from vitpose_mm.checkpoint import fit_state_dict, load_state_dict_file
from vitpose_mm.checkpoint.fit import FINAL_LAYERS, check_keypoint_map
from vitpose_mm.engine.hooks import FineTuneHook
from vitpose_mm.tools.check_metainfo import check_metainfo, keypoint_problem

MPII_CONFIG = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/fine_tune/'
               'vitpose-mm_td-hm_ViTPose-tiny_1xb5-30e_fine-tune-coco-to-mpii-'
               '128x96.py')
#: The tiny model, one fine-tuning iteration, validation at its end.
TINY_FT = [o for o in TINY_RUN if not o.startswith('train_dataloader')]
#: COCO's face: nose, eyes, ears (indices 0-4), as a user's own set.
FACE = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear']


@pytest.fixture(scope='module')
def coco_checkpoint(tmp_path_factory):
    """A 17-keypoint checkpoint trained by the train tool: the tiny model,
    8 epochs of the tiny COCO set (16 iterations)."""
    data_root = str(require_shared('data/coco')) + '/'
    work_dir = tmp_path_factory.mktemp('coco')
    run_tool([
        '-m', 'vitpose_mm.tools.train', str(CONFIG), '--work-dir',
        str(work_dir), '--no-validate', '--cfg-options',
        f'data_root={data_root}', *TINY_RUN, 'train_cfg.max_epochs=8',
        'param_scheduler.0.end=2'
    ])
    return work_dir / 'epoch_8.pth'


def _tiny_cfg(path):
    """The config with TINY_FT applied, parsed as the tools parse it."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(parser.parse_args(['--cfg-options',
                                           *TINY_FT]).cfg_options)
    return cfg


def _batch(cfg, data_root):
    """One batch of the config's training set (the real pipeline, seeded)."""
    from mmengine.runner import Runner
    torch.manual_seed(0)
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.dataset.data_root = data_root
    loader_cfg.sampler = dict(type='DefaultSampler', shuffle=False)
    with DefaultScope.overwrite_default_scope('mmpose'):
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        return next(iter(loader))


def _loss(model, batch):
    model.train()
    data = model.data_preprocessor(batch, training=True)
    with torch.no_grad():
        return float(model(**data, mode='loss')['loss_kpt'])


def test_mpii_fine_tune_starts_from_the_checkpoint(coco_checkpoint):
    """Backbone and deconvolutions are the checkpoint's before the first
    step; the 12 mapped joints' final-layer rows are its rows, the other 4
    the model's initialisation; the first loss on a batch is below a
    random-init model's on the same batch."""
    data_root = str(require_shared('data/mpii')) + '/'
    cfg = _tiny_cfg(MPII_CONFIG)
    saved = load_state_dict_file(str(coco_checkpoint))
    with DefaultScope.overwrite_default_scope('mmpose'):
        torch.manual_seed(1)
        model = MODELS.build(cfg.model)
        model.init_weights()
        torch.manual_seed(1)
        scratch = MODELS.build(cfg.model)
        scratch.init_weights()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    FineTuneHook(**cfg.fine_tune).apply(model)
    load_checkpoint(model, str(coco_checkpoint), map_location='cpu')
    state = model.state_dict()
    for key, value in saved.items():
        if key.startswith(('backbone.', 'head.deconv_layers.')):
            assert torch.equal(state[key], value), key
    weight = state['head.final_layer.weight']
    assert weight.shape[0] == 16
    mapped = dict((dst, src) for src, dst in cfg.fine_tune.keypoint_map)
    for dst in range(16):
        want = (saved['head.final_layer.weight'][mapped[dst]]
                if dst in mapped else init['head.final_layer.weight'][dst])
        assert torch.equal(weight[dst], want), dst
    batch = _batch(cfg, data_root)
    assert _loss(model, batch) < _loss(scratch, batch)


def test_train_tool_fine_tunes_or_refuses_naming_the_option(
        coco_checkpoint, tmp_path):
    data_root = str(require_shared('data/mpii')) + '/'
    args = ['-m', 'vitpose_mm.tools.train', str(MPII_CONFIG),
            '--cfg-options', f'data_root={data_root}',
            f'load_from={coco_checkpoint}', *TINY_FT,
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1']
    refused = run_tool(args + ['fine_tune=None', '--work-dir',
                               str(tmp_path / 'refused')], check=False)
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert 'Traceback' not in refused.stderr
    assert 'predicts 17 keypoints but the model 16' in last
    assert 'fine_tune=dict()' in last and '--fine-tune' in last
    done = run_tool(args + ['--work-dir', str(tmp_path / 'ft')])
    log = done.stdout + done.stderr
    assert ('vitpose_mm fine-tune: re-initialised 2 tensors: '
            'head.final_layer.weight (checkpoint (17, 16, 1, 1) vs model '
            '(16, 16, 1, 1), rows of 12 of 16 keypoints') in log
    assert 'PCK: ' in log
    assert (tmp_path / 'ft' / 'epoch_1.pth').is_file()


def _face_set(folder):
    """A made-up 5-keypoint set from the tiny COCO annotations: metainfo
    file, annotation file and a user's short config inheriting ours."""
    coco = require_shared('data/coco')
    data = json.loads((coco / 'test_coco.json').read_text())
    for ann in data['annotations']:
        ann['keypoints'] = ann['keypoints'][:15]
        ann['num_keypoints'] = sum(v > 0 for v in ann['keypoints'][2::3])
    data['categories'][0]['keypoints'] = FACE
    data['categories'][0]['skeleton'] = [[1, 2], [1, 3], [2, 4], [3, 5]]
    (folder / 'face.json').write_text(json.dumps(data))
    swap = dict(left_eye='right_eye', right_eye='left_eye',
                left_ear='right_ear', right_ear='left_ear')
    info = dict(
        dataset_name='face5',
        keypoint_info={i: dict(name=n, id=i, color=[255, 0, 0],
                               type='upper', swap=swap.get(n, ''))
                       for i, n in enumerate(FACE)},
        skeleton_info={i: dict(link=link, id=i, color=[0, 255, 0])
                       for i, link in enumerate([
                           ('nose', 'left_eye'), ('nose', 'right_eye'),
                           ('left_eye', 'left_ear'),
                           ('right_eye', 'right_ear')])},
        joint_weights=[1.] * 5,
        sigmas=[.026, .025, .025, .035, .035])
    (folder / 'face5.py').write_text(f'dataset_info = {info!r}\n')
    config = folder / 'face_config.py'
    config.write_text(f'''
_base_ = [{str(CONFIG)!r}]
model = dict(head=dict(out_channels=5))
fine_tune = dict(keypoint_map=[(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)])
metainfo = dict(from_file={str(folder / 'face5.py')!r})
_data = dict(data_root={str(folder)!r} + '/', ann_file='face.json',
             data_prefix=dict(img={str(coco)!r} + '/'), metainfo=metainfo)
train_dataloader = dict(batch_size=7, dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={str(folder / 'face.json')!r})
test_evaluator = val_evaluator
''')
    return config


def test_own_keypoint_subset_fine_tunes_with_its_rows(coco_checkpoint,
                                                      tmp_path):
    config = _face_set(tmp_path)
    done = run_tool(['-m', 'vitpose_mm.tools.train', str(config),
                     '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                     f'load_from={coco_checkpoint}', *TINY_FT,
                     'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    log = done.stdout + done.stderr
    assert 'rows of 5 of 5 keypoints from the checkpoint' in log
    assert 'coco/AP: ' in log
    # the written model's final layer began as the checkpoint's first rows
    # and moved one step: close to them, not to a fresh init
    saved = load_state_dict_file(str(coco_checkpoint))
    tuned = load_state_dict_file(str(tmp_path / 'work' / 'epoch_1.pth'))
    rows = saved['head.final_layer.weight'][:5]
    moved = (tuned['head.final_layer.weight'] - rows).abs().max()
    assert moved < 0.2 * rows.abs().max()


def test_bad_fine_tune_input_is_one_line(coco_checkpoint, tmp_path):
    config = _face_set(tmp_path)
    base = ['-m', 'vitpose_mm.tools.train', str(config), '--work-dir',
            str(tmp_path / 'w'), '--cfg-options',
            f'load_from={coco_checkpoint}', *TINY_FT]
    # a model keypoint index the model does not have
    out = run_tool(base + ['fine_tune.keypoint_map=[(0,0),(1,7)]'],
                   check=False)
    assert out.returncode == 1 and 'Traceback' not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith(
        'keypoint_map: (1, 7) names model keypoint 7, but the model has 5 '
        '(0-4)')
    # a K that is neither the metainfo's nor the checkpoint's
    out = run_tool(base + ['model.head.out_channels=6'], check=False)
    assert out.returncode == 1 and 'Traceback' not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        f'vitpose_mm: {tmp_path / "face5.py"} defines 5 keypoints but the '
        'model predicts 6 (model.head.out_channels); set '
        'model.head.out_channels=5')
    # a skeleton naming a keypoint the set does not have
    text = (tmp_path / 'face5.py').read_text()
    (tmp_path / 'face5.py').write_text(text.replace("('nose', 'left_eye')",
                                                    "('nose', 'chin')"))
    out = run_tool(base, check=False)
    assert out.returncode == 1 and 'Traceback' not in out.stderr
    assert "skeleton_info[0] links 'chin'" in out.stderr.splitlines()[-1]


def test_keypoint_map_and_metainfo_checks():
    with pytest.raises(ValueError, match=r'\(17, 0\) names checkpoint '
                       r'keypoint 17, but the checkpoint has 17 \(0-16\)'):
        check_keypoint_map([(17, 0)], 17, 5)
    with pytest.raises(ValueError, match='model keypoint 0 is mapped twice'):
        check_keypoint_map([(1, 0), (2, 0)], 17, 5)
    with pytest.raises(ValueError, match='is not a'):
        check_keypoint_map([(1, 0, 2)], 17, 5)
    info = dict(keypoint_info={0: dict(name='a', swap='b')})
    assert keypoint_problem(info) == (
        "keypoint 0 ('a') has swap='b', which is not one of its keypoints")
    cfg = Config(dict(
        model=dict(type='TopdownPoseEstimator', head=dict(out_channels=3)),
        train_dataloader=dict(dataset=dict(metainfo=dict(
            keypoint_info={0: dict(name='a'), 1: dict(name='a')})))))
    with pytest.raises(SystemExit, match="keypoint name 'a' is used twice"):
        check_metainfo(cfg, ('train_dataloader', ))


def test_vitpose_plus_new_dataset_gets_head_and_expert_trains_alone():
    """A trained 2-dataset ViTPose+ into a 3-dataset one: the new expert
    starts as a copy of expert 0, the new head from its init, everything
    else from the checkpoint, and only the new head and expert train."""
    trained = build_plus(datasets=DATASETS[:2])
    state = trained.state_dict()
    model = build_plus(datasets=DATASETS[:3])
    init = {k: v.clone() for k, v in model.state_dict().items()}
    FineTuneHook(new_dataset='mpii', expert_from='coco').apply(model)
    model.load_state_dict(state, strict=True)
    after = model.state_dict()
    for key, value in state.items():
        assert torch.equal(after[key], value), key
    for key in after:
        if key.startswith('heads.mpii.'):
            assert torch.equal(after[key], init[key]), key
        if '.mlp.experts.2.' in key:
            assert torch.equal(after[key],
                               state[key.replace('experts.2', 'experts.0')])
    training = {n for n, p in model.named_parameters() if p.requires_grad}
    assert training and all(
        n.startswith('heads.mpii.') or '.mlp.experts.2.' in n
        for n in training)
    assert any('.mlp.experts.2.' in n for n in training)
    # without the option the same load is refused
    with pytest.raises(ValueError, match='missing keys'):
        build_plus(datasets=DATASETS[:3]).load_state_dict(state, strict=True)


def test_fit_state_dict_reinit_by_keys_only_is_refused():
    own = {'head.final_layer.weight': torch.Size((5, 4, 1, 1))}
    state = {'head.final_layer.weight': torch.zeros(17, 4, 1, 1)}
    with pytest.raises(ValueError, match="needs the model's tensors"):
        fit_state_dict(own, state, 'vitpose_mm', reinit=FINAL_LAYERS)
