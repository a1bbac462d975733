"""Checkpoints of every ViTPose layout in the stock clients.

A random tiny ViTPose of ours (simple decoder: transformers holds it) is
written in the original, mmpose model-zoo (mmpretrain keys) and
transformers layouts (a ``.safetensors`` file and a ``save_pretrained``
folder); ``mmpose.apis.init_model``, ``MMPoseInferencer`` and mmengine's
``load_checkpoint`` load each to exactly our weights, or fail naming the
layout, the key and both shapes, or the ``config.json`` field.
"""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tests.checkpoint.test_hf_parity import hf_model
from tests.tools.test_train_test import CONFIG
from tests.tiny import TINY_CONFIG_BACKBONE
from vitpose_mm.checkpoint import convert_state_dict, save_state_dict_file

transformers = pytest.importorskip('transformers')

TINY = TINY_CONFIG_BACKBONE


def write_config(folder, embed_dim=TINY['embed_dim']):
    """The main job's config with a tiny simple-decoder ViTPose."""
    path = folder / f'tiny_{embed_dim}.py'
    path.write_text(f"""_base_ = ['{CONFIG}']
model = dict(
    backbone=dict(embed_dim={embed_dim}, depth={TINY['depth']},
                  num_heads={TINY['num_heads']}),
    neck=dict(type='FeatureMapProcessor', scale_factor=4.0, apply_relu=True),
    head=dict(in_channels={embed_dim}, deconv_out_channels=[],
              deconv_kernel_sizes=[],
              final_layer=dict(kernel_size=3, padding=1)))
""")
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """(config, our random model, {layout: path})."""
    from mmpose.registry import MODELS
    folder = tmp_path_factory.mktemp('layouts')
    config = write_config(folder)
    # mmpose's registry, whatever scope an earlier test left current (an
    # in-process mmdet detector makes 'mmdet' the default scope).
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(Config.fromfile(config).model).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    ours = model.state_dict()
    paths = {}
    for layout, name in (('original', 'original.pth'),
                         ('mmpose', 'mmpose.pth'),
                         ('hf', 'hf.safetensors')):
        paths[layout] = folder / name
        save_state_dict_file(
            convert_state_dict(ours, to=layout), str(paths[layout]))
    hf = hf_model('simple', img_size=(128, 96), num_keypoints=17, **TINY)
    hf.load_state_dict(convert_state_dict(ours, to='hf'), strict=True)
    paths['hf_folder'] = folder / 'hf_folder'
    hf.save_pretrained(paths['hf_folder'])
    return config, model, paths


@torch.no_grad()
def _assert_same(model, reference):
    """Same heatmaps (mmpose's layout folds the cls row of pos_embed into
    the patch rows, so its weights differ while the function does not)."""
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        model.eval()(x, None, mode='tensor'),
        reference.eval()(x, None, mode='tensor'),
        rtol=0,
        atol=1e-5)


@pytest.mark.parametrize('layout',
                         ['original', 'mmpose', 'hf', 'hf_folder'])
def test_init_model_loads_every_layout_exactly(files, layout):
    from mmpose.apis import init_model
    config, reference, paths = files
    _assert_same(init_model(str(config), str(paths[layout]), device='cpu'),
                 reference)


@pytest.mark.parametrize('layout', ['mmpose', 'hf_folder'])
def test_inferencer_and_our_loader_take_foreign_layouts(files, layout):
    from mmpose.apis import MMPoseInferencer

    from vitpose_mm.apis import init_pose_model
    config, reference, paths = files
    inferencer = MMPoseInferencer(
        pose2d=str(config),
        pose2d_weights=str(paths[layout]),
        det_model='whole_image',
        device='cpu')
    _assert_same(inferencer.inferencer.model, reference)
    _assert_same(
        init_pose_model(str(config), str(paths[layout]), fast=False),
        reference)


@pytest.mark.parametrize('layout', ['original', 'mmpose', 'hf'])
def test_wrong_size_names_layout_key_and_shapes(files, tmp_path, layout):
    from mmpose.apis import init_model
    _, _, paths = files
    wider = write_config(tmp_path, embed_dim=64)
    with pytest.raises(ValueError) as err:
        init_model(str(wider), str(paths[layout]), device='cpu')
    msg = str(err.value)
    assert msg.startswith(layout)
    assert '(1, 49, 32) in the checkpoint but (1, 49, 64) in the model' in (
        msg) or ('32' in msg and '64' in msg and 'backbone.' in msg), msg


def _edit_config(folder, tmp_path, **fields):
    import shutil
    dst = tmp_path / 'edited'
    shutil.copytree(folder, dst)
    config = json.loads((dst / 'config.json').read_text())
    config['backbone_config'].update(fields)
    (dst / 'config.json').write_text(json.dumps(config))
    return dst


@pytest.mark.parametrize('fields, match', [
    (dict(out_indices=[1]), r'out_indices=\[1\].*out_indices=\[2\]'),
    (dict(layer_norm_eps=1e-12), r'layer_norm_eps=1e-12'),
    (dict(num_experts=2), r'num_experts=2 but the weights hold 1'),
])
def test_folder_fields_we_cannot_represent_are_refused(
        files, tmp_path, fields, match):
    from mmpose.apis import init_model

    from vitpose_mm.checkpoint import load_state_dict_file
    config, _, paths = files
    folder = _edit_config(paths['hf_folder'], tmp_path, **fields)
    with pytest.raises(ValueError, match=match):
        init_model(str(config), str(folder), device='cpu')
    with pytest.raises(ValueError, match=match):
        load_state_dict_file(str(folder))


def test_backbone_only_file_is_refused_by_load_checkpoint(files, tmp_path):
    from mmengine.runner import load_checkpoint
    from mmpose.registry import MODELS
    config, reference, _ = files
    path = tmp_path / 'backbone.pth'
    torch.save({
        'state_dict': {
            k: v
            for k, v in reference.state_dict().items()
            if k.startswith('backbone.')
        }
    }, path)
    model = MODELS.build(Config.fromfile(config).model)
    with pytest.raises(ValueError, match='no head weights'):
        load_checkpoint(model, str(path), map_location='cpu')


@pytest.mark.parametrize('fields, message', [
    (dict(num_attention_heads=1),
     "num_attention_heads=1 but the pose config's model has num_heads=2"),
    (dict(hidden_act='relu'), "hidden_act='relu' but the pose config's "
     "model has activation='gelu'"),
    (dict(hidden_act='gelu_pytorch_tanh'), "hidden_act='gelu_pytorch_tanh'"),
    (dict(image_size=[256, 192]), "image_size=(256, 192) but the pose "
     "config's model has img_size=(128, 96)"),
    (dict(mlp_ratio=2), 'mlp_ratio=2.0 but'),
])
def test_folder_config_that_disagrees_with_the_pose_config_is_refused(
        files, tmp_path, fields, message):
    """Same shapes, another model: before issue 20 these loaded with exit
    0 (6 heads for 12, relu for GELU: heatmaps off by up to 1.09)."""
    from mmpose.apis import init_model
    config, _, paths = files
    folder = _edit_config(paths['hf_folder'], tmp_path, **fields)
    with pytest.raises(ValueError) as err:
        init_model(str(config), str(folder), device='cpu')
    assert str(err.value).startswith(f'{folder}/config.json: {message}')
    assert '\n' not in str(err.value)
    from vitpose_mm.apis import InputError, init_pose_model
    with pytest.raises(InputError, match=f'{folder}/config.json: '):
        init_pose_model(str(config), str(folder), fast=False)


def test_folder_decoder_and_keypoints_are_compared(files, tmp_path):
    from mmpose.apis import init_model
    config, _, paths = files
    folder = _edit_config(paths['hf_folder'], tmp_path)
    edited = json.loads((folder / 'config.json').read_text())
    edited['use_simple_decoder'] = False
    (folder / 'config.json').write_text(json.dumps(edited))
    with pytest.raises(ValueError, match="use_simple_decoder='classic' but "
                       "the pose config's model has decoder='simple'"):
        init_model(str(config), str(folder), device='cpu')
    edited['use_simple_decoder'] = True
    edited['id2label'] = {str(i): f'k{i}' for i in range(5)}
    edited.pop('num_labels', None)
    (folder / 'config.json').write_text(json.dumps(edited))
    with pytest.raises(ValueError, match="num_labels=5 but the pose "
                       "config's model has keypoints=17"):
        init_model(str(config), str(folder), device='cpu')


def test_converter_config_refuses_a_disagreeing_folder(files, tmp_path):
    from tests.tools.test_train_test import run_tool
    config, _, paths = files
    folder = _edit_config(paths['hf_folder'], tmp_path, hidden_act='relu')
    dst = tmp_path / 'out.pth'
    result = run_tool([
        '-m', 'vitpose_mm.tools.convert_checkpoint',
        str(folder),
        str(dst), '--config',
        str(config)
    ],
                      check=False)
    assert result.returncode == 1
    # the last line is ours (transformers imports torchao when it is
    # installed, and torch logs torchao's deprecation warnings before it)
    assert 'Traceback' not in result.stderr
    assert result.stderr.splitlines()[-1] + '\n' == (
        f'convert_checkpoint: error: {folder}/config.json: '
        "hidden_act='relu' but the pose config's model has "
        "activation='gelu'; the folder is another model than the config "
        'describes\n')
    assert not dst.exists()


def test_backbone_init_cfg_compares_the_folder_config(files, tmp_path):
    from mmpose.registry import MODELS
    config, _, paths = files
    folder = _edit_config(paths['hf_folder'], tmp_path, num_hidden_layers=3)
    cfg = Config.fromfile(config).model.backbone
    cfg.init_cfg = dict(type='Pretrained', checkpoint=str(folder))
    backbone = MODELS.build(cfg)
    with pytest.raises(ValueError, match="num_hidden_layers=3 but the pose "
                       "config's model has depth=2"):
        backbone.init_weights()
