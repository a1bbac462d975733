"""ONNX export: the CLI writes a file whose onnxruntime heatmaps equal
PyTorch's (dynamic batch, opset >= 17, ViTPose and ViTPose+), and
OnnxPoseModel runs it as the PyTorch model does."""
import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

import onnx  # noqa: E402

from tests.deploy.helpers import tiny_config, tiny_model  # noqa: E402
from vitpose_mm.deploy import (HeatmapNet, OnnxPoseModel,  # noqa: E402
                               export_onnx)
from vitpose_mm.tools.export_onnx import main  # noqa: E402


def export_cli(tmp_path, cfg, model, *extra):
    """Write ``cfg`` and ``model``'s weights, run the CLI; the .onnx path."""
    cfg.dump(str(tmp_path / 'cfg.py'))
    torch.save(model.state_dict(), tmp_path / 'weights.pth')
    out = tmp_path / 'model.onnx'
    main([str(tmp_path / 'cfg.py'), str(tmp_path / 'weights.pth'),
          str(out), *extra])
    return out


@pytest.fixture(scope='module')
def vitpose(tmp_path_factory):
    """(eager model, exported file) for a tiny classic-decoder ViTPose."""
    model = tiny_model(tiny_config('classic'))
    path = export_cli(tmp_path_factory.mktemp('vitpose'), model.cfg, model)
    return model, path


@pytest.fixture(scope='module')
def plus(tmp_path_factory):
    """(eager model, exported file) for ViTPose+, dataset 'aic', opset
    18, a fixed batch of 2."""
    model = tiny_model(tiny_config('simple', plus=True))
    path = export_cli(tmp_path_factory.mktemp('plus'), model.cfg, model,
                      '--dataset', 'aic', '--opset', '18', '--batch', '2')
    return model, path


def ort_heatmaps(path, x):
    import onnxruntime as ort
    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    return session.run(None, {'input': x.numpy()})[0]


@pytest.mark.parametrize('batch', [1, 3])
def test_onnxruntime_heatmaps_match_pytorch_for_any_batch(vitpose, batch):
    model, path = vitpose
    x = torch.randn(batch, 3, 64, 48)
    with torch.no_grad():
        ref = model(x, None, mode='tensor').numpy()
    assert np.abs(ref).max() > 0.5
    np.testing.assert_allclose(ort_heatmaps(path, x), ref, rtol=0,
                               atol=1e-4)


def test_file_has_opset_dynamic_batch_and_config(vitpose):
    _, path = vitpose
    proto = onnx.load(str(path))
    opset = {o.domain: o.version for o in proto.opset_import}['']
    assert opset == 17
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param and not dim.dim_value
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta['vitpose_mm.format'] == '1'
    assert 'ViTPoseUDPHeatmap' in meta['vitpose_mm.config']


def test_vitpose_plus_exports_the_chosen_expert_and_head(plus):
    model, path = plus
    x = torch.randn(2, 3, 64, 48)  # the file's fixed batch
    with torch.no_grad():
        index = torch.ones(2, dtype=torch.long)  # aic
        ref = model.heads['aic'](model.extract_feat(x, index)).numpy()
    got = ort_heatmaps(path, x)
    assert got.shape == (2, 14, 16, 12)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
    proto = onnx.load(str(path))
    assert {o.domain: o.version for o in proto.opset_import}[''] == 18
    runner = OnnxPoseModel(path)
    assert runner.dataset == 'aic'
    assert len(runner.dataset_meta['flip_indices']) == 14


def test_onnx_pose_model_predicts_as_pytorch(vitpose):
    model, path = vitpose
    runner = OnnxPoseModel(path)
    assert runner.input_hw == (64, 48) and runner.batch_size is None
    x = torch.randn(4, 3, 64, 48)
    keypoints, scores = runner.predict(x)
    assert keypoints.shape == (4, 17, 2) and scores.shape == (4, 17)
    # The PyTorch head's own flip test and decoding on the same crops.
    from mmpose.structures import PoseDataSample
    samples = [PoseDataSample(metainfo=dict(
        flip_indices=model.dataset_meta['flip_indices'])) for _ in x]
    with torch.no_grad():
        feats = [model.extract_feat(x), model.extract_feat(x.flip(-1))]
        preds = model.head.predict(feats, samples, test_cfg=model.test_cfg)
    ref_scores = np.concatenate([p.keypoint_scores for p in preds])
    ref_keypoints = np.concatenate([p.keypoints for p in preds])
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    # Ties between near-equal peaks of a random head may decode apart.
    close = np.linalg.norm(keypoints - ref_keypoints, axis=-1) < 0.05
    assert close.mean() > 0.95


def test_estimator_runs_whole_images_like_the_pytorch_model(
        vitpose, coco_tiny):
    from mmpose.apis import inference_topdown
    model, path = vitpose
    estimator = OnnxPoseModel(path).as_estimator()
    boxes = np.array([[281., 45., 500., 392.], [38., 111., 213., 286.]])
    image = str(coco_tiny / '000000040083.jpg')
    got = inference_topdown(estimator, image, boxes)
    ref = inference_topdown(model, image, boxes)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.pred_instances.keypoint_scores,
                                   b.pred_instances.keypoint_scores,
                                   atol=1e-4)
        shift = np.linalg.norm(a.pred_instances.keypoints
                               - b.pred_instances.keypoints, axis=-1)
        assert np.median(shift) < 0.05


def test_fixed_batch_file_runs_any_number_of_crops(plus):
    model, path = plus
    runner = OnnxPoseModel(path)
    assert runner.batch_size == 2
    x = torch.randn(3, 3, 64, 48)
    with torch.no_grad():
        ref = HeatmapNet(model, 'aic')(x).numpy()
    np.testing.assert_allclose(runner.heatmaps(x), ref, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match=r'Expected \(B >= 1, 3, 64, 48\)'):
        runner.heatmaps(np.zeros((1, 3, 32, 48), np.float32))


def test_bad_requests_fail_with_one_line(vitpose, plus, tmp_path):
    model, _ = vitpose
    plus_model, _ = plus
    with pytest.raises(ValueError, match='opset must be >= 17'):
        export_onnx(model, tmp_path / 'x.onnx', opset=16)
    with pytest.raises(ValueError, match="pass dataset= one of them"):
        HeatmapNet(plus_model.set_dataset(None))
    plus_model.set_dataset('coco')
    with pytest.raises(ValueError, match="Unknown dataset 'mpii'"):
        HeatmapNet(plus_model, 'mpii')
    with pytest.raises(ValueError, match='is for ViTPose\\+ models'):
        HeatmapNet(model, 'coco')
    with pytest.raises(SystemExit):
        main(['cfg.py', 'w.pth', 'out.onnx', '--batch', '0'])
    with pytest.raises(SystemExit, match='config .* not found'):
        main([str(tmp_path / 'none.py'), 'w.pth', 'o.onnx'])


def test_foreign_onnx_file_is_refused(tmp_path):
    from onnx import TensorProto, helper
    value = helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                          [1, 3, 4, 4])
    out = helper.make_tensor_value_info('out', TensorProto.FLOAT,
                                        [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node('Relu', ['input'], ['out'])],
                              'plain', [value], [out])
    path = tmp_path / 'plain.onnx'
    onnx.save(helper.make_model(graph, ir_version=8,
                                opset_imports=[helper.make_opsetid('', 17)]),
              str(path))
    with pytest.raises(ValueError, match='not exported by vitpose_mm'):
        OnnxPoseModel(path)


def test_output_that_is_an_input_is_refused(tmp_path):
    """issue 20 item 2: OUT through a symlink (run as a user runs it) or a
    hard link to the checkpoint is refused in one line before anything is
    loaded, and the checkpoint is unchanged."""
    import os
    import subprocess
    import sys
    model = tiny_model(tiny_config('classic'))
    model.cfg.dump(str(tmp_path / 'cfg.py'))
    weights = tmp_path / 'weights.pth'
    torch.save(model.state_dict(), weights)
    before = weights.read_bytes()
    (tmp_path / 'link.onnx').symlink_to(weights)
    proc = subprocess.run(
        [sys.executable, '-m', 'vitpose_mm.tools.export_onnx',
         str(tmp_path / 'cfg.py'), str(weights), str(tmp_path / 'link.onnx')],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f'vitpose_mm.tools.export_onnx: DST must differ from SRC: '
        f'{tmp_path}/link.onnx is {weights} (a symlink or hard link to it); '
        'writing it would destroy the source')
    assert 'Traceback' not in proc.stderr
    os.link(weights, tmp_path / 'hard.onnx')
    with pytest.raises(SystemExit, match='a symlink or hard link to it'):
        main([str(tmp_path / 'cfg.py'), str(weights),
              str(tmp_path / 'hard.onnx')])
    assert weights.read_bytes() == before


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_external_data_is_replaced_whole(vitpose, tmp_path):
    """issue 20: with an external-data file the pair is written under new
    names and renamed; the previous data file goes only after the rename,
    and a failed export (here: the check) leaves the previous pair."""
    model, _ = vitpose
    out = tmp_path / 'model.onnx'
    export_onnx(model, out, external_data=True)
    first = _files(tmp_path)
    assert len(first) == 2 and first[1].startswith('model.onnx.')
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        ref = model(x, None, mode='tensor').numpy()
    np.testing.assert_allclose(ort_heatmaps(out, x), ref, atol=1e-4)
    before = {n: (tmp_path / n).read_bytes() for n in first}
    with pytest.raises(RuntimeError, match=f'^{out}: onnxruntime heatmaps '
                       'differ from PyTorch by'):
        export_onnx(model, out, external_data=True, atol=-1.0)
    assert {n: (tmp_path / n).read_bytes() for n in first} == before
    export_onnx(model, out)  # inline weights: the old data file goes
    assert _files(tmp_path) == ['model.onnx']
    np.testing.assert_allclose(ort_heatmaps(out, x), ref, atol=1e-4)


def test_full_disk_keeps_the_previous_file(vitpose, tmp_path, monkeypatch):
    model, _ = vitpose
    out = tmp_path / 'model.onnx'
    out.write_bytes(b'previous export')

    def full(*args):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr('vitpose_mm.engine.atomic_files.replace_durably',
                        full)
    for external in (False, True):
        with pytest.raises(OSError) as exc:
            export_onnx(model, out, external_data=external, verify=False)
        assert str(exc.value) == (
            f'cannot write {out}: No space left on device (disk full); '
            'the existing file is unchanged')
        assert out.read_bytes() == b'previous export'
        assert _files(tmp_path) == ['model.onnx']


@pytest.mark.parametrize('what', ['file', 'folder'])
def test_read_only_or_folder_output_is_one_line(vitpose, tmp_path,
                                                make_read_only, what):
    model, _ = vitpose
    model.cfg.dump(str(tmp_path / 'cfg.py'))
    torch.save(model.state_dict(), tmp_path / 'w.pth')
    folder = tmp_path / 'out'
    folder.mkdir()
    out = folder / 'model.onnx'
    out.write_bytes(b'previous export')
    make_read_only(out if what == 'file' else folder)
    reason = ('the file is read-only; the existing file is unchanged'
              if what == 'file' else f'the folder {folder} is read-only')
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / 'cfg.py'), str(tmp_path / 'w.pth'), str(out)])
    assert str(exc.value) == (f'vitpose_mm.tools.export_onnx: cannot write '
                              f'{out}: {reason}')
    assert out.read_bytes() == b'previous export'
    assert _files(folder) == ['model.onnx']
    with pytest.raises(SystemExit, match=f'^vitpose_mm.tools.export_onnx: '
                       f'DST {folder} is a folder; name a file$'):
        main([str(tmp_path / 'cfg.py'), str(tmp_path / 'w.pth'),
              str(folder)])
