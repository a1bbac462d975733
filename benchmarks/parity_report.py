"""Print the measured parity errors of vitpose_mm against the ORIGINAL
ViTPose outputs in ``../shared/fixtures/original_vitpose``.

Run: ``.venv/bin/python benchmarks/parity_report.py [--shared ../shared]``.
Prints a markdown table (max absolute errors) for README.md. The asserting
versions of these checks are tests/models/test_original_parity.py,
tests/models/test_vit_moe.py and tests/codecs/test_udp_heatmap.py.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shared', default=str(REPO.parent / 'shared'))
    args = parser.parse_args()
    os.environ['VITPOSE_MM_SHARED'] = args.shared
    torch.set_num_threads(1)  # the fixtures were made with one thread

    from mmpose.utils import register_all_modules
    register_all_modules()
    import vitpose_mm  # noqa: F401
    from tests.conftest import load_fixture
    from tests.models.test_original_parity import (COCO_FLIP_INDICES,
                                                   load_original)
    from vitpose_mm.codecs import dark_udp_decode
    from vitpose_mm.models import ViTPosePlusBackbone
    from mmpose.models.utils.tta import flip_heatmaps

    rows = []
    for name in ('vit_classic.pt', 'vit_simple.pt'):
        fx, model = load_original(name)
        with torch.no_grad():
            feats = model.extract_feat(fx['input'])
            heatmaps = model.head(feats)
            flipped = flip_heatmaps(
                model.head(model.extract_feat(fx['input'].flip(-1))),
                flip_mode='heatmap', flip_indices=COCO_FLIP_INDICES,
                shift_heatmap=False)
            backbone = model.backbone(fx['input'])[0]
        rows.append((f'{name} backbone features',
                     (backbone - fx['backbone_output']).abs().max()))
        rows.append((f'{name} heatmaps',
                     (heatmaps - fx['output']).abs().max()))
        e2e = fx['e2e']
        avg = ((heatmaps + flipped) * 0.5).numpy()
        rows.append((f'{name} flip-test heatmaps',
                     np.abs(avg - e2e['output']['output_heatmap'].numpy())
                     .max()))
        kpts, _ = dark_udp_decode(avg)
        center = e2e['input']['center'].numpy()[:, None]
        size = e2e['input']['scale'].numpy()[:, None] * 200
        img = kpts * size / np.array([47, 63]) + center - size / 2
        err = np.abs(img - e2e['output']['preds'].numpy()[..., :2]).max(-1)
        rows.append((f'{name} end-to-end keypoints (px), median / max',
                     f'{np.median(err):.2e} / {err.max():.2e}'))

    fx = load_fixture('vit_moe.pt')
    cfg = {k: v for k, v in fx['config']['backbone'].items() if k != 'type'}
    moe = ViTPosePlusBackbone(**cfg).eval()
    moe.load_state_dict({k[9:]: v for k, v in fx['state_dict'].items()})
    with torch.no_grad():
        out = moe(fx['input'], fx['dataset_idx'])[0]
    rows.append(('vit_moe.pt ViTPose+ backbone features',
                 (out - fx['output']).abs().max()))

    fx = load_fixture('udp_decode.pt')
    worst = 0.
    for case in range(fx['input']['heatmaps'].shape[0]):
        kpts, _ = dark_udp_decode(fx['input']['heatmaps'][case].numpy())
        ref = fx['intermediates']['dark_udp_preds'][case].numpy()
        worst = max(worst, np.abs(kpts - ref).max())
    rows.append(('udp_decode.pt DARK-UDP keypoints (heatmap px)', worst))

    print('| check | max abs error |\n|---|---|')
    for label, value in rows:
        value = value if isinstance(value, str) else f'{float(value):.2e}'
        print(f'| {label} | {value} |')


if __name__ == '__main__':
    main()
