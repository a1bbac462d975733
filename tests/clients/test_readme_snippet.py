"""README's ``custom_imports`` snippet, as written, on mmpose's own ViTPose
config: it loads, builds the plugin's backbone and optimizer constructor,
and trains a step."""
import re

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from tests.conftest import REPO


def readme_snippet() -> str:
    text = (REPO / 'README.md').read_text()
    marker = 'tests/clients/test_readme_snippet.py runs this block'
    block = re.search(r'```python\n(.*?)```', text[text.index(marker):],
                      re.S)
    return block.group(1)


def test_readme_snippet_builds_and_trains_on_stock_mmpose_config(tmp_path):
    from mmpose.registry import MODELS
    path = tmp_path / 'my_vitpose.py'
    path.write_text(readme_snippet())
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['vitpose_mm']
    # mmpose's own parts of the base config are kept
    assert cfg.model.type == 'TopdownPoseEstimator'
    assert cfg.model.head.type == 'HeatmapHead'
    assert 'init_cfg' not in cfg.model.backbone
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'ViTPoseBackbone'
    assert len(model.backbone.blocks) == 12
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {group['lr'] for group in wrapper.optimizer.param_groups}
    assert len(lrs) >= 13  # one lr per layer (layer-wise decay)
    inputs = torch.rand(1, 3, 256, 192)
    feats = model.backbone(inputs)
    assert feats[-1].shape == (1, 768, 16, 12)
    heatmaps = model.head(feats)
    assert heatmaps.shape == (1, 17, 64, 48)
    wrapper.update_params(heatmaps.square().mean())
