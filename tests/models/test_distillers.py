"""Knowledge-token and heatmap distillation (ViTPose paper, Sec. 3.4)."""
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import HOOKS, MODELS
from mmpose.structures import PoseDataSample
from torch import nn

from vitpose_mm.checkpoint import check_fits, load_state_dict_file
from vitpose_mm.models import ViTPoseBackbone
from vitpose_mm.engine.hooks import ViTPoseExportHook
from vitpose_mm.models.distillers import (ViTPoseDistiller,
                                          ViTPoseKnowledgeTokenLearner,
                                          project_tokens)

REPO = Path(__file__).resolve().parents[2]
DISTILL = REPO / 'configs/body_2d_keypoint/topdown_heatmap/distill'
K = 3  # keypoints


def pose_cfg(dim, depth=2, heads=4, **backbone):
    return dict(
        type='TopdownPoseEstimator',
        backbone=dict(dict(type='ViTPoseBackbone', img_size=(64, 48),
                           embed_dim=dim, depth=depth, num_heads=heads,
                           mlp_ratio=2, drop_path_rate=0.1), **backbone),
        head=dict(type='HeatmapHead', in_channels=dim, out_channels=K,
                  deconv_out_channels=(8, ), deconv_kernel_sizes=(4, ),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True)))


def student_kwargs(dim=32):
    cfg = pose_cfg(dim)
    cfg.pop('type')
    return cfg


@pytest.fixture
def teacher_file(tmp_path):
    """A 48-wide teacher's weights in a weights-only file."""
    torch.manual_seed(1)
    teacher = MODELS.build(pose_cfg(48))
    teacher.init_weights()
    path = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / 'token.pth'
    torch.manual_seed(2)
    torch.save({'knowledge_token': torch.randn(1, 1, 48)}, path)
    return str(path)


def batch(n=2, seed=0):
    """(n, 3, 64, 48) images and samples with (K, 8, 6) target heatmaps."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(heatmaps=torch.rand(K, 8, 6,
                                                         generator=g))
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.tensor([[1., 0., 1.]]))
        samples.append(sample)
    return torch.randn(n, 3, 64, 48, generator=g), samples


def layer_decay_wrapper(model, depth=2):
    return build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.1),
        constructor='ViTPoseLayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.75)))


def test_registered_names_resolve_to_our_classes():
    assert MODELS.get('ViTPoseDistiller') is ViTPoseDistiller
    assert (MODELS.get('ViTPoseKnowledgeTokenLearner')
            is ViTPoseKnowledgeTokenLearner)
    assert HOOKS.get('ViTPoseExportHook') is ViTPoseExportHook


# ------------------------------------------------------- extra tokens --
def test_extra_tokens_are_attended_then_dropped():
    """Appended after the position embedding (they get none), seen by the
    blocks, gone from the map: the backbone equals the blocks run by hand
    on [patch tokens + pos; token], first Hp*Wp rows kept."""
    torch.manual_seed(0)
    model = ViTPoseBackbone(img_size=(64, 48), embed_dim=32, depth=2,
                            num_heads=4, mlp_ratio=2).eval()
    model.init_weights()
    x, token = torch.randn(2, 3, 64, 48), torch.randn(1, 2, 32)
    with torch.no_grad():
        out = model(x, extra_tokens=token)[0]
        plain = model(x)[0]
        tokens, _ = model.patch_embed(x)
        seq = torch.cat([tokens + model.pos_embed[:, 1:]
                         + model.pos_embed[:, :1], token.expand(2, -1, -1)],
                        1)
        for blk in model.blocks:
            seq = blk(seq)
        ref = model.last_norm(seq[:, :12]).transpose(1, 2).reshape(
            2, 32, 4, 3)
        per_sample = model(x, extra_tokens=token.expand(2, -1, -1))[0]
    assert out.shape == plain.shape == (2, 32, 4, 3)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(per_sample, out, rtol=0, atol=0)
    assert (out - plain).abs().max() > 1e-3  # the token changes the output
    with pytest.raises(ValueError, match=r'\(1 or 2, K, 32\), got'):
        model(x, extra_tokens=torch.randn(1, 2, 16))
    windowed = ViTPoseBackbone(img_size=(64, 48), embed_dim=32, depth=2,
                               num_heads=4, attn_types='window')
    with pytest.raises(ValueError, match='window attention'):
        windowed(x, extra_tokens=token)


# --------------------------------------------------------------- stage 1 --
def test_token_learner_trains_the_token_only(teacher_file):
    learner = MODELS.build(dict(
        pose_cfg(48), type='ViTPoseKnowledgeTokenLearner',
        teacher_checkpoint=teacher_file))
    learner.init_weights()
    teacher = MODELS.build(pose_cfg(48)).eval()
    teacher.load_state_dict(load_state_dict_file(teacher_file))
    assert learner.knowledge_token.shape == (1, 1, 48)
    assert [n for n, p in learner.named_parameters()
            if p.requires_grad] == ['knowledge_token']

    wrapper = layer_decay_wrapper(learner)
    learner.train()
    assert not any(m.training for m in (learner.backbone, learner.head))
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    inputs, samples = batch()
    with torch.no_grad():  # the token changes the teacher's output
        assert (learner.extract_feat(inputs)[0]
                - teacher.extract_feat(inputs)[0]).abs().max() > 1e-4
    wrapper.update_params(learner.parse_losses(
        learner.loss(inputs, samples))[0])
    after = learner.state_dict()
    assert not torch.equal(after['knowledge_token'],
                           before['knowledge_token'])
    for key in before:
        if key != 'knowledge_token':
            assert torch.equal(after[key], before[key]), key
    assert list(wrapper.optimizer.state) == [learner.knowledge_token]
    exported = learner.export_state_dict()
    assert list(exported) == ['knowledge_token']


# --------------------------------------------------------------- stage 2 --
def build_distiller(teacher_file, token_file, kd_weight=0.5, **kwargs):
    torch.manual_seed(0)
    model = ViTPoseDistiller(
        teacher=pose_cfg(48), teacher_checkpoint=teacher_file,
        knowledge_token=token_file,
        heatmap_distill_loss=dict(type='KeypointMSELoss',
                                  loss_weight=kd_weight),
        **{**student_kwargs(), **kwargs})
    model.init_weights()
    return model


def test_teacher_is_frozen_and_left_out_of_the_state(teacher_file,
                                                     token_file):
    model = build_distiller(teacher_file, token_file)
    wrapper = layer_decay_wrapper(model)
    model.train()
    assert model.backbone.training and not model.teacher.training
    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    student_before = model.backbone.blocks[0].attn.qkv.weight.clone()
    wrapper.update_params(model.parse_losses(model.loss(*batch()))[0])
    for name, param in model.teacher.named_parameters():
        assert not param.requires_grad and param.grad is None, name
        assert torch.equal(param, teacher_before[name]), name
    assert not torch.equal(model.backbone.blocks[0].attn.qkv.weight,
                           student_before)

    # The state dict is the plain student's: it loads strictly into a
    # TopdownPoseEstimator, and back into the distiller.
    state = model.state_dict()
    plain = MODELS.build(pose_cfg(32))
    assert set(state) == set(plain.state_dict())
    plain.load_state_dict(check_fits(plain, state), strict=True)
    model.load_state_dict(plain.state_dict(), strict=True)
    inputs, _ = batch()
    plain.eval(), model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(inputs, None),
                                   plain(inputs, None), rtol=0, atol=0)


def test_losses_equal_hand_computed_values(teacher_file, token_file):
    """loss_kpt = mean(w * (S - gt)^2), loss_heatmap_kd = 0.5 *
    mean((S - T)^2), S the student with the projected token appended, T
    the teacher without it; the total is their sum."""
    model = build_distiller(teacher_file, token_file, kd_weight=0.5).eval()
    inputs, samples = batch()
    token = project_tokens(
        load_state_dict_file(token_file)['knowledge_token'], 32)
    teacher = MODELS.build(pose_cfg(48)).eval()
    teacher.load_state_dict(load_state_dict_file(teacher_file))
    with torch.no_grad():
        losses = model.loss(inputs, samples)
        S = model.head(model.backbone(inputs, extra_tokens=token))
        T = teacher.head(teacher.backbone(inputs))
    gt = torch.stack([s.gt_fields.heatmaps for s in samples])
    w = torch.tensor([1., 0., 1.]).view(1, K, 1, 1)
    torch.testing.assert_close(losses['loss_kpt'],
                               ((S - gt)**2 * w).mean())
    torch.testing.assert_close(losses['loss_heatmap_kd'],
                               0.5 * ((S - T)**2).mean())
    total, _ = model.parse_losses(losses)
    torch.testing.assert_close(
        total, losses['loss_kpt'] + losses['loss_heatmap_kd'])
    assert 0 <= losses['acc_pose'] <= 1


def test_token_projection_is_fixed_and_keeps_the_scale(token_file):
    token = torch.randn(1, 2, 48)
    narrow = project_tokens(token, 32)
    assert narrow.shape == (1, 2, 32)
    torch.testing.assert_close(narrow, project_tokens(token, 32))
    torch.testing.assert_close(narrow.pow(2).mean(-1),
                               token.pow(2).mean(-1))
    wide = project_tokens(token, 64)  # an isometry up to the scale
    cos = torch.nn.functional.cosine_similarity
    torch.testing.assert_close(cos(wide[0, 0], wide[0, 1], dim=0),
                               cos(token[0, 0], token[0, 1], dim=0))
    assert project_tokens(token, 48) is token
    model = ViTPoseDistiller(knowledge_token=token_file, **student_kwargs())
    model.init_weights()
    torch.testing.assert_close(model.knowledge_token, project_tokens(
        load_state_dict_file(token_file)['knowledge_token'], 32))
    assert 'knowledge_token' not in model.state_dict()


def test_bad_distiller_configs_are_errors(teacher_file, tmp_path):
    with pytest.raises(ValueError, match='neither was given'):
        ViTPoseDistiller(**student_kwargs())
    with pytest.raises(ValueError, match='go together'):
        ViTPoseDistiller(teacher=pose_cfg(48), knowledge_token='t.pth',
                         **student_kwargs())
    with pytest.raises(ValueError, match=r'img_size \(64, 64\) differs'):
        ViTPoseDistiller(
            teacher=pose_cfg(48, img_size=(64, 64)),
            teacher_checkpoint=teacher_file,
            heatmap_distill_loss=dict(type='KeypointMSELoss'),
            **student_kwargs())
    with pytest.raises(ValueError, match='needs full attention'):
        kwargs = student_kwargs()
        kwargs['backbone']['attn_types'] = 'window'
        ViTPoseDistiller(knowledge_token='t.pth', **kwargs)
    model = ViTPoseDistiller(knowledge_token=teacher_file,
                             **student_kwargs())
    with pytest.raises(RuntimeError, match='call init_weights'):
        model.loss(*batch())
    with pytest.raises(ValueError, match='holds no .* knowledge_token'):
        model.init_weights()  # a teacher file, not a token file
    with pytest.raises(TypeError, match='export_state_dict'):
        ViTPoseExportHook('x.pth').before_run(
            SimpleNamespace(model=nn.Linear(2, 2)))


# ------------------------------------------------- real run, tiny COCO --
class Record(Hook):
    """Keeps the token before / after training and the val metrics."""

    def __init__(self):
        self.token = {}
        self.metrics = None

    def before_train(self, runner):
        token = getattr(runner.model, 'knowledge_token', None)
        if token is not None:
            self.token['before'] = token.detach().clone()

    def after_train(self, runner):
        token = getattr(runner.model, 'knowledge_token', None)
        if token is not None:
            self.token['after'] = token.detach().clone()

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = metrics

    after_test_epoch = after_val_epoch


def run(config, work_dir, coco_tiny, train=True, plain=False, **options):
    """Train (or test) ``config`` on the tiny set with ``options``; with
    ``plain`` the model is the distiller's student as a plain
    ``TopdownPoseEstimator``."""
    from vitpose_mm.tools.data_root import load_run_config
    # Two training iterations of 2 people each (an epoch of 4 people).
    cfg = load_run_config(str(config), {
        'data_root': f'{coco_tiny}/', 'work_dir': str(work_dir),
        'train_dataloader.batch_size': 2,
        'train_dataloader.dataset.indices': 4, 'train_cfg.max_epochs': 1,
        **options})
    if plain:
        for key in ('teacher', 'teacher_checkpoint', 'knowledge_token',
                    'heatmap_distill_loss'):
            cfg.model.pop(key)
        cfg.model.type = 'TopdownPoseEstimator'
        cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.visualizer.vis_backends = []
    # The Runner logs and dumps the config through yapf (~5 s a call on a
    # loaded 2-core machine); the config text is not under test here.
    with mock.patch.object(Config, 'pretty_text',
                           property(lambda self: repr(self._cfg_dict))):
        runner = Runner.from_cfg(cfg)
        record = Record()
        runner.register_hook(record)
        if train:
            runner.train()
        else:
            runner.test()
    return runner, record


STAGE1_TINY = DISTILL / (
    'vitpose-mm_kd-token-stage1_ViTPose-tiny_1xb14-20e_coco-tiny-128x96.py')
STAGE2_TINY = DISTILL / (
    'vitpose-mm_kd-token-heatmap_ViTPose-tiny-to-mini_1xb14-100e_coco-tiny-128x96.py')


def tiny_teacher_cfg():
    """The teacher of the tiny stage-1 config as a plain estimator."""
    model = Config.fromfile(str(STAGE1_TINY)).model
    return dict(type='TopdownPoseEstimator', backbone=model.backbone,
                head=model.head)


def test_tiny_stage2_teacher_is_the_stage1_teacher():
    """The two tiny configs describe one teacher (its file fits both)."""
    shapes = [{k: v.shape for k, v in MODELS.build(cfg).state_dict().items()}
              for cfg in (tiny_teacher_cfg(),
                          Config.fromfile(str(STAGE2_TINY)).model.teacher)]
    assert shapes[0] == shapes[1]


def test_both_stages_train_and_the_student_is_evaluated(coco_tiny, tmp_path,
                                                        teacher_file):
    """Stage 1 then stage 2 on the real tiny COCO set (2 iterations each),
    CocoMetric on the distilled student, and the exported student file
    evaluated as a plain ViTPose: same heatmaps, same AP."""
    torch.manual_seed(0)
    teacher = MODELS.build(tiny_teacher_cfg())
    teacher.init_weights()
    teacher_path = tmp_path / 'teacher_tiny.pth'
    torch.save({'state_dict': teacher.state_dict()}, teacher_path)

    stage1, rec1 = run(
        STAGE1_TINY, tmp_path / 's1', coco_tiny, **{
            'model.teacher_checkpoint': str(teacher_path), 'val_cfg': None,
            'val_dataloader': None, 'val_evaluator': None})
    token_path = tmp_path / 's1' / 'knowledge_token.pth'
    token = load_state_dict_file(str(token_path))['knowledge_token']
    assert token.shape == (1, 1, 192)
    assert not torch.equal(rec1.token['before'], rec1.token['after'])
    torch.testing.assert_close(token, rec1.token['after'])
    for key, value in teacher.state_dict().items():
        assert torch.equal(stage1.model.state_dict()[key], value), key

    stage2, rec2 = run(STAGE2_TINY, tmp_path / 's2', coco_tiny, **{
        'model.teacher_checkpoint': str(teacher_path),
        'model.knowledge_token': str(token_path),
        'train_cfg.val_interval': 1})
    assert stage2.model.knowledge_token.shape == (1, 1, 96)
    assert 0 <= rec2.metrics['coco/AP'] <= 1

    # The exported student is a plain ViTPose: strict load, same outputs,
    # same CocoMetric result through the Runner's test loop.
    student_path = tmp_path / 's2' / 'student_only.pth'
    plain, rec3 = run(STAGE2_TINY, tmp_path / 's3', coco_tiny, train=False,
                      plain=True, load_from=str(student_path))
    assert type(plain.model).__name__ == 'TopdownPoseEstimator'
    plain.model.load_state_dict(
        check_fits(plain.model, load_state_dict_file(str(student_path))),
        strict=True)
    x = torch.randn(2, 3, 128, 96)
    stage2.model.eval(), plain.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(plain.model(x, None),
                                   stage2.model(x, None), rtol=0, atol=0)
    assert rec3.metrics['coco/AP'] == pytest.approx(rec2.metrics['coco/AP'])
