"""What fetching released weights by name costs, first run and cached.

A random ViTPose of the chosen size (``--size``, default small; COCO
256x192, classic decoder) is written in mmpose's model-zoo layout with the
sha256 prefix in its file name, served from 127.0.0.1 (no machine here
reaches download.openmmlab.com), and fetched with
:func:`vitpose_mm.hub.fetch_weights` into an empty cache: download + sha256
+ conversion + atomic write. Then the cached file is asked for again (a
lookup, no request) and loaded into the model by
:func:`vitpose_mm.apis.init_pose_model` both from the cache (our layout)
and from the raw mmpose file (converted while it loads), ``--repeat``
times each, median seconds.

    python benchmarks/weights_cache.py [--size small|base] [--repeat 3]
"""
import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = ('configs/body_2d_keypoint/topdown_heatmap/coco/'
          'vitpose-mm_td-hm_ViTPose-{}_8xb64-210e_coco-256x192.py')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='small',
                        choices=['small', 'base', 'large', 'huge'])
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    from tests.hub.server import CheckpointServer
    from vitpose_mm.apis import init_pose_model
    from vitpose_mm.checkpoint import convert_state_dict, save_state_dict_file
    from vitpose_mm.hub import cached_path, fetch_weights
    config = str(ROOT / CONFIG.format(args.size))
    tmp = Path(tempfile.mkdtemp())
    os.environ['VITPOSE_MM_HOME'] = str(tmp / 'cache')
    from mmengine.config import Config
    from mmpose.apis import init_model
    model = init_model(Config.fromfile(config), None, device='cpu')
    raw = tmp / 'raw.pth'
    save_state_dict_file(convert_state_dict(model.state_dict(), to='mmpose'),
                         str(raw))
    data = raw.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    path = f'/zoo/td-hm_ViTPose-{args.size}-{sha[:8]}_20230314.pth'
    with CheckpointServer() as server:
        server.files[path] = (data, 'file')
        url = server.url(path)
        t0 = time.perf_counter()
        cached = fetch_weights(url)
        first = time.perf_counter() - t0
        lookups = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fetch_weights(url)
            lookups.append(time.perf_counter() - t0)
    assert cached == cached_path(url)

    def load(ckpt):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            init_pose_model(config, str(ckpt), fast=False)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    print(f'ViTPose-{args.size}: file {len(data) / 2**20:.1f} MiB, '
          f'{args.repeat} repeats, median s')
    print('| step | seconds |\n|---|---|')
    print(f'| first fetch (download from 127.0.0.1, sha256, convert, '
          f'write) | {first:.3f} |')
    print(f'| cached fetch (lookup, no request) | '
          f'{statistics.median(lookups):.6f} |')
    print(f'| init_pose_model from the cache (our layout) | '
          f'{load(cached):.3f} |')
    print(f'| init_pose_model from the raw mmpose file | {load(raw):.3f} |')
    print(f'requests to the server: {server.requests[path]}')


if __name__ == '__main__':
    main()
