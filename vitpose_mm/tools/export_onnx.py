"""Export a ViTPose / ViTPose+ checkpoint to ONNX (crops -> heatmaps).

Examples::

    python -m vitpose_mm.tools.export_onnx CONFIG CHECKPOINT OUT.onnx
    python -m vitpose_mm.tools.export_onnx CONFIG CKPT OUT.onnx \\
        --dataset coco --opset 17 --batch dynamic
    python -m vitpose_mm.tools.export_onnx CONFIG CKPT OUT.onnx --int8

The checkpoint may be in any layout :func:`vitpose_mm.apis.init_pose_model`
reads (ours, the original ViTPose, mmpose's, Hugging Face's) and is loaded
strictly. The file is checked against PyTorch with onnxruntime (heatmaps
within ``--atol``) unless ``--no-verify``. Run it with
:class:`vitpose_mm.deploy.OnnxPoseModel` (the graph, its inputs, outputs
and metadata are described in :mod:`vitpose_mm.deploy.onnx_export`).
Needs ``requirements/export.txt``.
"""
import argparse
from typing import List, Optional


def _batch(value: str):
    if value == 'dynamic':
        return value
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"--batch must be 'dynamic' or an int >= 1, got {value!r}")
    return size


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Export a ViTPose model to ONNX')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='weights (.pth, .safetensors)')
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument(
        '--dataset', help='ViTPose+: the dataset (name, e.g. coco, or '
        'index) whose expert and head to export')
    parser.add_argument('--opset', type=int, default=17,
                        help='ONNX opset, >= 17 (default 17)')
    parser.add_argument('--batch', type=_batch, default='dynamic',
                        help="'dynamic' (default) or a fixed batch size")
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest heatmap difference accepted by the '
                        'onnxruntime check (default 1e-4)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime check')
    parser.add_argument('--int8', action='store_true',
                        help='dynamic int8 linear layers (LayerNorm, '
                        'softmax, the head and the heatmaps stay fp32); '
                        'the fp32 graph is verified first')
    parser.add_argument('--allow-pickle', action='store_true',
                        help='read checkpoints holding Python objects '
                        '(mmengine training checkpoints); trusted files only')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    """Load the model, export it, check it; errors end in one line."""
    args = parse_args(argv)
    from mmpose.utils import register_all_modules

    from vitpose_mm.apis import InputError, init_pose_model
    from vitpose_mm.deploy import export_onnx

    register_all_modules(init_default_scope=True)
    dataset = args.dataset
    if dataset is not None and dataset.isdigit():
        dataset = int(dataset)
    from vitpose_mm.engine.atomic_files import check_output
    try:
        # OUT through a symlink or a hard link to an input would destroy it
        check_output(args.out, [args.config, args.checkpoint])
        model = init_pose_model(args.config, args.checkpoint,
                                allow_pickle=args.allow_pickle, fast=False)
        path = export_onnx(model, args.out, dataset=dataset,
                           opset=args.opset, batch=args.batch,
                           verify=not args.no_verify, atol=args.atol,
                           int8=args.int8)
    except (InputError, ValueError, RuntimeError, OSError) as err:
        # OSError: WriteError (read-only, full disk), one line
        raise SystemExit(f'vitpose_mm.tools.export_onnx: {err}') from None
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
