"""Importing vitpose_mm changes nothing in the process (issue 21 item 2),
and the checkpoint package is a state-dict library that never imports the
models (item 1). Each case runs in a fresh interpreter: the test process
itself has long imported and built our models."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                         cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


#: What a process looks like to others: torch's global module-registration
#: hooks, torch.load's allow-list, mmengine's checkpoint loaders, and how a
#: plain torch model and a stock mmpose model (ResNet top-down) load.
PROBE = '''
import json, os, tempfile, warnings
import torch
from torch import nn
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
{imports}
from mmpose.utils import register_all_modules
register_all_modules()
from mmpose.registry import MODELS

def gname(g):
    g = g[0] if isinstance(g, tuple) else g
    return getattr(g, '__module__', '?') + '.' + getattr(
        g, '__qualname__', repr(g))

def state():
    return dict(
        hooks=len(nn.modules.module._global_module_registration_hooks),
        safe=sorted(gname(g) for g in torch.serialization.get_safe_globals()),
        schemes=sorted(CheckpointLoader._schemes))

before = state()
torch.manual_seed(0)
plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
estimator = MODELS.build(dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=18),
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17,
              loss=dict(type='KeypointMSELoss'))))
tmp = tempfile.mkdtemp()
results = {{}}
for name, model in (('plain', plain), ('mmpose', estimator)):
    path = os.path.join(tmp, name + '.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(note=name)), path)
    fresh = type(model)(*[]) if name == 'plain' else None
    target = (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
              if name == 'plain' else MODELS.build(dict(
                  type='TopdownPoseEstimator',
                  backbone=dict(type='ResNet', depth=18),
                  head=dict(type='HeatmapHead', in_channels=512,
                            out_channels=17,
                            loss=dict(type='KeypointMSELoss')))))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        load_checkpoint(target, path, map_location='cpu')
    results[name] = all(torch.equal(a, b) for a, b in zip(
        model.state_dict().values(), target.state_dict().values()))
    # a folder and a .safetensors file that are not ViTPose: read by
    # mmengine's own loader, whatever it does with them
    folder = os.path.join(tmp, name + '_folder')
    os.makedirs(folder)
    try:
        CheckpointLoader.load_checkpoint(folder)
        results[name + '_folder'] = 'read'
    except Exception as err:
        results[name + '_folder'] = type(err).__name__
print(json.dumps(dict(before=before, after=state(), loads=results)))
'''


def test_importing_vitpose_mm_changes_no_other_model():
    without = _run(PROBE.format(imports=''))
    with_us = _run(PROBE.format(imports='import vitpose_mm'))
    # importing us registers nothing process-wide ...
    assert with_us['before'] == without['before']
    # ... building and loading others' models leaves it as without us
    # (torch itself allow-lists its DTensor types lazily, in both runs) ...
    assert with_us['after'] == without['after']
    assert with_us['after']['hooks'] == without['before']['hooks']
    assert with_us['after']['schemes'] == without['before']['schemes']
    # ... and they load exactly as without us
    assert with_us['loads'] == without['loads']
    assert with_us['loads']['plain'] and with_us['loads']['mmpose']


def test_our_loading_is_set_up_by_our_backbone():
    """What importing no longer does happens when our backbone is built:
    the pre-hook on its estimator (a transformers-layout state dict loads
    converted), the allow-list and mmengine's ViTPose file rule."""
    got = _run('''
        import json
        import torch
        from torch import nn
        from mmengine.runner.checkpoint import CheckpointLoader
        import vitpose_mm
        from mmpose.registry import MODELS
        from vitpose_mm.checkpoint import convert_state_dict
        from vitpose_mm.checkpoint.mmengine_loader import LOCAL_HF_PATTERN
        n0 = len(torch.serialization.get_safe_globals())
        cfg = dict(type='TopdownPoseEstimator',
                   backbone=dict(type='ViTPoseBackbone', img_size=(64, 48),
                                 embed_dim=32, depth=2, num_heads=2),
                   head=dict(type='HeatmapHead', in_channels=32,
                             out_channels=5,
                             deconv_out_channels=(256, 256),
                             deconv_kernel_sizes=(4, 4),
                             loss=dict(type='KeypointMSELoss')))
        torch.manual_seed(0)
        src = MODELS.build(cfg)
        dst = MODELS.build(cfg)
        hf = convert_state_dict(src.state_dict(), to='hf')
        dst.load_state_dict(hf, strict=True)
        print(json.dumps(dict(
            same=all(torch.equal(a, b) for a, b in zip(
                src.state_dict().values(), dst.state_dict().values())),
            hooks=len(nn.modules.module._global_module_registration_hooks),
            safe=len(torch.serialization.get_safe_globals()) > n0,
            rule=LOCAL_HF_PATTERN in CheckpointLoader._schemes)))
    ''')
    assert got == dict(same=True, hooks=1, safe=True, rule=True)


def test_checkpoint_package_never_imports_the_models():
    """``vitpose_mm.models`` replaced by a module that raises when it is
    imported: the whole checkpoint package still imports and fits a state
    dict to a model given by its keys."""
    got = _run('''
        import json, sys, types
        import torch

        class Blocked:
            """Refuses any import of vitpose_mm.models."""
            def find_spec(self, fullname, path=None, target=None):
                if fullname.startswith('vitpose_mm.models'):
                    raise ImportError(fullname + ' imported by checkpoint/')
                return None

        sys.meta_path.insert(0, Blocked())
        import importlib.util
        spec = importlib.util.find_spec('vitpose_mm')
        pkg = types.ModuleType('vitpose_mm')
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules['vitpose_mm'] = pkg
        import pkgutil, importlib
        import vitpose_mm.checkpoint as ck
        names = [m.name for m in pkgutil.iter_modules(ck.__path__)]
        for name in names:
            importlib.import_module('vitpose_mm.checkpoint.' + name)
        own = {'backbone.blocks.0.attn.qkv.weight': torch.zeros(6, 2),
               'head.final_layer.weight': torch.zeros(3, 4, 1, 1)}
        state = {k: torch.ones_like(v) for k, v in own.items()}
        fit = ck.fit_state_dict(own, state)
        print(json.dumps(dict(names=sorted(names), layout=fit.layout,
                              keys=sorted(fit.state),
                              models=[m for m in sys.modules
                                      if m.startswith('vitpose_mm.models.')])))
    ''')
    assert {'fit', 'convert', 'pos_embed', 'hf_folder'} <= set(got['names'])
    assert got['layout'] == 'vitpose_mm'
    assert got['keys'] == ['backbone.blocks.0.attn.qkv.weight',
                           'head.final_layer.weight']
    assert got['models'] == []
