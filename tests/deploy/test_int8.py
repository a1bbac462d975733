"""int8 (dynamic int8 linear layers) on real COCO crops: keypoints close
to fp32 with PyTorch (``init_pose_model(precision='int8')``) and with
onnxruntime (``export_onnx --int8``); LayerNorm, the head and the
heatmaps stay float32 (needs ../shared/data/coco).

The model is the seeded random tiny ViTPose of ``test_precision_coco``
(simple decoder, 256x192) with its final conv fitted to the 14 people's
target heatmaps. Keypoints are compared in crop pixels, without flip
test, on the keypoints whose fp32 peak is unambiguous (peak margin >=
10%), as for bf16 / fp16. The trained-model measurement (COCO AP, median
and 95th-percentile shift) is ``benchmarks/int8_accuracy.py``.
"""
import numpy as np
import pytest
import torch

from tests.deploy.helpers import fitted_coco_model, peak_margin
from vitpose_mm.deploy import optimize_for_inference


@pytest.fixture(scope='module')
def setup():
    from tests.conftest import require_shared
    model, inputs, _ = fitted_coco_model(require_shared('data/coco'))
    return model, inputs


def keypoints(heatmaps, decoder):
    kpts, _ = decoder.batch_decode(torch.as_tensor(heatmaps))
    return np.concatenate(kpts)


def check_close(model, heatmaps_fp32, heatmaps_int8):
    """Median shift <= 0.5 crop px and max <= 2 px on clear peaks."""
    clear = (peak_margin(torch.as_tensor(heatmaps_fp32)) >= 0.1).numpy()
    assert clear.sum() >= 100  # of 14 x 17
    shift = np.linalg.norm(
        keypoints(heatmaps_int8, model.head.decoder)
        - keypoints(heatmaps_fp32, model.head.decoder), axis=-1)[clear]
    assert np.median(shift) <= 0.5 and shift.max() <= 2., (
        np.median(shift), shift.max())
    return shift


def test_torch_int8_keeps_keypoints_and_float32_parts(setup):
    model, inputs = setup
    int8 = optimize_for_inference(model, 'int8')
    assert int8.deploy_cfg['precision'] == 'int8'
    kinds = {type(m).__module__ for m in int8.backbone.modules()}
    assert 'torch.ao.nn.quantized.dynamic.modules.linear' in kinds
    assert not any(type(m) is torch.nn.Linear for m in int8.modules())
    assert all(m.weight.dtype == torch.float32 for m in int8.modules()
               if isinstance(m, torch.nn.LayerNorm))
    with torch.no_grad():
        ref = model(inputs, None, mode='tensor')
        got = int8(inputs, None, mode='tensor')
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert not torch.equal(got, ref)  # really quantised
    check_close(model, ref, got)
    # The source model is untouched (a copy was quantised).
    assert any(type(m) is torch.nn.Linear for m in model.modules())


def test_onnx_int8_export_keeps_keypoints(setup, tmp_path):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    import json

    import onnx

    from vitpose_mm.deploy import OnnxPoseModel, export_onnx
    model, inputs = setup
    fp32 = export_onnx(model, tmp_path / 'fp32.onnx')
    int8 = export_onnx(model, tmp_path / 'int8.onnx', int8=True)
    graph = onnx.load(str(int8)).graph
    ops = {n.op_type for n in graph.node}
    assert 'MatMulInteger' in ops and 'LayerNormalization' in ops
    # The head's convolutions are not quantised.
    assert not ops & {'ConvInteger', 'QLinearConv'}
    props = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert json.loads(props['vitpose_mm.runtime'])['precision'] == 'int8'
    assert OnnxPoseModel(int8).precision == 'int8'
    assert OnnxPoseModel(fp32).precision == 'fp32'
    ref = OnnxPoseModel(fp32).heatmaps(inputs)
    got = OnnxPoseModel(int8).heatmaps(inputs)
    check_close(model, ref, got)


def test_onnx_static_int8_keeps_keypoints(setup, tmp_path):
    """Static QDQ: fixed activation scales from calibration crops (no
    per-call DynamicQuantizeLinear), keypoints as close as the dynamic
    path's, and bad calibration refused."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    import json

    import onnx

    from vitpose_mm.deploy import OnnxPoseModel, export_onnx
    from vitpose_mm.deploy.int8 import quantize_onnx_static_int8
    model, inputs = setup
    fp32 = export_onnx(model, tmp_path / 'fp32.onnx')
    static = quantize_onnx_static_int8(fp32, tmp_path / 'static.onnx',
                                       inputs.numpy(), batch=4)
    loaded = onnx.load(str(static))
    ops = [n.op_type for n in loaded.graph.node]
    assert 'DynamicQuantizeLinear' not in ops and 'QuantizeLinear' in ops
    # Weights per output channel: 1-D scales on the weight dequantisers.
    inits = {t.name: t for t in loaded.graph.initializer}
    weight_scales = [inits[n.input[1]] for n in loaded.graph.node
                     if n.op_type == 'DequantizeLinear'
                     and inits.get(n.input[0]) is not None
                     and inits[n.input[0]].data_type == onnx.TensorProto.INT8]
    assert weight_scales and all(len(t.dims) == 1 and t.dims[0] > 1
                                 for t in weight_scales)
    props = {p.key: p.value for p in loaded.metadata_props}
    assert json.loads(props['vitpose_mm.runtime'])['precision'] == 'int8'
    ref = OnnxPoseModel(fp32).heatmaps(inputs)
    got = OnnxPoseModel(static).heatmaps(inputs)
    assert not np.array_equal(got, ref)
    check_close(model, ref, got)
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\) crops.*\(0, 3'):
        quantize_onnx_static_int8(fp32, tmp_path / 'x.onnx',
                                  inputs.numpy()[:0])


def test_int8_requests_that_cannot_run(setup, tmp_path):
    from vitpose_mm.apis import InputError, init_pose_model
    model, _ = setup
    with pytest.raises(InputError, match="'int8' runs on the CPU, not cuda"):
        init_pose_model('unused.py', 'unused.pth', device='cuda',
                        precision='int8')
    with pytest.raises(InputError, match='int8 runs on the fast path'):
        init_pose_model('unused.py', 'unused.pth', fast=False,
                        precision='int8')


def test_vitpose_plus_int8_runs_one_and_mixed_dataset_batches():
    """ViTPose+ MoE FFNs in int8: a one-dataset batch (one stacked
    [fc2; expert] GEMM) and a mixed batch give each sample the features of
    its own expert: close to fp32 with the right experts, far from fp32
    with other experts. (Dynamic int8 quantises activations over the whole
    batch, so a sample's features also move slightly with its batch.)"""
    from mmpose.registry import MODELS
    torch.manual_seed(0)
    backbone = MODELS.build(dict(
        type='ViTPosePlusBackbone', img_size=(64, 48), embed_dim=64,
        depth=2, num_heads=2, num_expert=6, part_features=16)).eval()
    int8 = optimize_for_inference(backbone, 'int8')
    kinds = {type(m).__name__ for m in int8.modules()}
    assert 'FastMoEMlp' in kinds and 'MoEMlp' not in kinds
    x = torch.randn(4, 3, 64, 48)

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    with torch.no_grad():
        for right, wrong in (([1, 1, 1, 1], [2, 2, 2, 2]),
                             ([0, 3, 3, 5], [5, 0, 1, 3])):
            out = int8(x, torch.tensor(right))[0]
            ref = backbone(x, torch.tensor(right))[0]
            other = backbone(x, torch.tensor(wrong))[0]
            assert out.shape == ref.shape
            assert rel(out, ref) < 0.05, rel(out, ref)
            assert rel(out, other) > 0.3, rel(out, other)
