"""Every shipped config builds: model, data pipelines, optimizer, schedule.

All configs under ``configs/`` except ``_base_`` folders are found by glob,
so new configs are checked without editing this file. They are built in one
fresh Python process (this file run as a script), not in the pytest process
whose registries the other tests have already filled; one process for all
keeps the ~10 s import of mmpose paid once. Each config's outcome is written
to a JSON report as soon as it is known, so a crash still reports the
configs before it, and each config is its own pytest id.

Only the random initialisation of ``nn.Linear`` / conv weights is skipped
while a model is built (:func:`_skip_default_init`): whether a config builds
does not depend on the values, and CPU ``uniform_`` takes ~18 s for the
637M parameters of ViTPose-H.
"""
import json
import re
import subprocess
import sys
import time
import traceback
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, List
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG_ROOT = REPO / 'configs'
CONFIGS = sorted(
    path for path in CONFIG_ROOT.rglob('*.py')
    if '_base_' not in path.relative_to(CONFIG_ROOT).parts)
IDS = [str(path.relative_to(CONFIG_ROOT)) for path in CONFIGS]


# ------------------------------------------------------------ the worker --
@contextmanager
def _skip_default_init() -> Iterator[None]:
    """Leave the default ``kaiming_uniform_`` / ``uniform_`` fills of
    ``reset_parameters`` undone; shapes and modules are unchanged."""
    import torch
    with ExitStack() as stack:
        for name in ('kaiming_uniform_', 'uniform_'):
            stack.enter_context(
                mock.patch.object(torch.nn.init, name,
                                  lambda tensor, *args, **kwargs: tensor))
        yield


def _pipelines(node, where: str) -> Iterator[tuple]:
    """Every ``pipeline`` list inside a dataloader/dataset config, with its
    dotted location (handles wrappers such as ``CombinedDataset``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'pipeline' and isinstance(value, list):
                yield f'{where}.pipeline', value
            else:
                yield from _pipelines(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pipelines(value, f'{where}[{i}]')


def check_topdown_codec(cfg) -> None:
    """A top-down config (one with ``TopdownAffine``) uses one codec
    throughout: every ``TopdownAffine`` warps with UDP exactly when the
    head's decoder is a UDP codec, every ``GenerateTarget`` encodes with the
    decoder's codec, and a heatmap flip test shifts the flipped heatmap one
    pixel only without UDP (UDP aligns the flip itself; mmpose's
    ``flip_heatmaps``). Bottom-up configs decode at another size on purpose
    and are left out."""
    decoder = cfg.model.get('head', {}).get('decoder')
    steps = [(where, step)
             for split in ('train', 'val', 'test')
             for where, pipeline in _pipelines(
                 cfg.get(f'{split}_dataloader', {}).get('dataset', {}),
                 f'{split}_dataloader.dataset')
             for step in pipeline]
    if not isinstance(decoder, dict) or not any(
            step['type'] == 'TopdownAffine' for _, step in steps):
        return
    udp = 'UDP' in decoder['type']
    for where, step in steps:
        if step['type'] == 'TopdownAffine':
            assert step.get('use_udp', False) == udp, \
                f'{where}: TopdownAffine use_udp=' \
                f'{step.get("use_udp", False)} with a {decoder["type"]} ' \
                'decoder'
        encoder = step.get('encoder')
        if step['type'] == 'GenerateTarget' and isinstance(encoder, dict):
            assert encoder == decoder, \
                f'{where}: GenerateTarget encodes {encoder}, the head ' \
                f'decodes {decoder}'
    test_cfg = cfg.model.get('test_cfg', {})
    if test_cfg.get('flip_test') and \
            test_cfg.get('flip_mode', 'heatmap') == 'heatmap':
        shift = test_cfg.get('shift_heatmap', False)
        assert shift == (not udp), \
            f'test_cfg.shift_heatmap={shift} with a {decoder["type"]} decoder'


def check_config(path: Path) -> None:
    """Load and build one config; raise on the first problem found."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS, PARAM_SCHEDULERS

    cfg = Config.fromfile(str(path))
    imports = cfg.get('custom_imports', {})
    assert 'vitpose_mm' in imports.get('imports', []) and \
        imports.get('allow_failed_imports') is False, \
        f'custom_imports must import vitpose_mm strictly, got {imports}'
    assert cfg.get('default_scope') == 'mmpose', \
        f"default_scope is {cfg.get('default_scope')!r}, not 'mmpose'"
    check_topdown_codec(cfg)
    ckpt_hook = cfg.default_hooks.checkpoint.type
    assert ckpt_hook == 'AtomicCheckpointHook', \
        f'default_hooks.checkpoint is {ckpt_hook}, not AtomicCheckpointHook'

    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        with _skip_default_init(), torch.no_grad():
            model = MODELS.build(cfg.model)
        head_in = cfg.model.head.get('in_channels')
        embed_dim = getattr(model.backbone, 'embed_dim', None)
        assert head_in == embed_dim, \
            f'head in_channels={head_in} but backbone embed_dim={embed_dim}'

        for split in ('train', 'val', 'test'):
            loader = cfg.get(f'{split}_dataloader')
            assert loader is not None, f'no {split}_dataloader'
            found = list(
                _pipelines(loader.dataset, f'{split}_dataloader.dataset'))
            assert found, f'{split}_dataloader has no pipeline'
            for where, pipeline in found:
                try:
                    Compose(pipeline)
                except Exception as exc:
                    raise AssertionError(f'{where}: {exc!r}') from exc

        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        for sched in cfg.get('param_scheduler', []):
            PARAM_SCHEDULERS.build(dict(sched, optimizer=optim_wrapper))


def main(report: str, paths: List[str]) -> None:
    """Check each config, rewriting the JSON ``report`` after each."""
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import vitpose_mm  # noqa: F401
    results = {}
    for path in paths:
        start = time.perf_counter()
        try:
            check_config(Path(path))
            error = None
        except Exception:
            error = traceback.format_exc()
        results[path] = dict(
            error=error, seconds=round(time.perf_counter() - start, 2))
        print(
            f'{path}: {"FAIL" if error else "ok"} '
            f'({results[path]["seconds"]} s)',
            file=sys.stderr,
            flush=True)
        Path(report).write_text(json.dumps(results, indent=1))


# ------------------------------------------------------------- the tests --
@pytest.fixture(scope='module')
def reports(tmp_path_factory) -> dict:
    """Run the worker once over all configs; return its report and log."""
    report = tmp_path_factory.mktemp('configs') / 'report.json'
    proc = subprocess.run(
        [sys.executable, str(Path(__file__)),
         str(report)] + [str(path) for path in CONFIGS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900)
    results = json.loads(report.read_text()) if report.exists() else {}
    return dict(
        results=results,
        returncode=proc.returncode,
        log=(proc.stdout + proc.stderr)[-4000:])


def test_shipped_configs_are_found():
    names = {path.name for path in CONFIGS}
    for size in ('small', 'base', 'large', 'huge'):
        for decoder in ('', '-simple'):
            name = f'vitpose-mm_td-hm_ViTPose-{size}{decoder}_8xb64-210e_coco-256x192.py'
            assert name in names, f'{name} not found under {CONFIG_ROOT}'


@pytest.mark.parametrize(
    'path', [path for path in CONFIGS if re.search(r'_\d+xb\d+-', path.name)],
    ids=lambda path: path.name)
def test_auto_scale_lr_base_is_the_batch_in_the_name(path):
    """``NxbM`` in a config name is N processes of M samples; the lr was set
    for that total, which ``--auto-scale-lr`` scales from."""
    from mmengine.config import Config
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', path.name).groups())
    cfg = Config.fromfile(path)
    assert cfg.auto_scale_lr.base_batch_size == gpus * per_gpu
    assert cfg.train_dataloader.batch_size == per_gpu


@pytest.mark.parametrize('change, match', [
    (lambda cfg: cfg.model.test_cfg.update(shift_heatmap=False),
     r'shift_heatmap=False with a MSRAHeatmap'),
    (lambda cfg: cfg.model.head.decoder.update(type='ViTPoseUDPHeatmap'),
     r'TopdownAffine use_udp=False with a ViTPoseUDPHeatmap'),
    (lambda cfg: cfg.model.head.decoder.update(sigma=3),
     r'GenerateTarget encodes .*sigma.: 2.*the head decodes .*sigma.: 3'),
], ids=['flip-shift', 'udp-warp', 'encoder'])
def test_topdown_codec_mismatch_is_found(change, match):
    """The codec rule of :func:`check_config` on a non-UDP config."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        CONFIG_ROOT / 'body_2d_keypoint/topdown_heatmap/crowdpose/'
        'vitpose-mm_td-hm_ViTPose-base_8xb64-210e_crowdpose-256x192.py')
    check_topdown_codec(cfg)
    change(cfg)
    with pytest.raises(AssertionError, match=match):
        check_topdown_codec(cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_builds(path, reports):
    result = reports['results'].get(str(path))
    if result is None:
        pytest.fail(f'the worker gave no result for {path} (exit '
                    f'{reports["returncode"]}):\n{reports["log"]}')
    if result['error']:
        pytest.fail(f'{path}:\n{result["error"]}', pytrace=False)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
