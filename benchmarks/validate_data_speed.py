"""Speed of the pre-run data check (``vitpose_mm.tools.validate_data``) on a
file the size of COCO train2017's person keypoints.

Builds, in a temporary folder, a COCO-style file of ``--images`` image
entries (default 57,000) with ``--per-image`` people each (COCO train2017:
262k annotations on 64k images, about 4 per image), every entry naming its
own file: hard links to ``--distinct`` different 640x480 JPEGs cut from the
tiny COCO set (``../shared/data/coco``) at JPEG quality 90 (about COCO's
file size). Then times, in one run:

- ``decode``: one image by each candidate decoder (ms per image):
  ``cv2.imdecode`` in colour (what mmcv's loader does), at 1/8 scale in
  grayscale (``IMREAD_REDUCED_GRAYSCALE_8``, what the check does) and
  PIL's ``draft`` + ``load`` at 1/8 scale;
- ``json``: ``json.load`` of the file;
- ``annotations``: the annotation checks alone (no image file touched);
- ``check, N threads``: :func:`check_annotation_file` with the images
  (existence and decoding), on 1 thread and on every core.

The JPEGs are few enough to sit in the page cache, so the numbers are
decode-bound, as on a warm cache; a cold disk adds reading COCO's ~10 GB
once. Usage::

    .venv/bin/python benchmarks/validate_data_speed.py [--images 57000]
"""
import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_jpegs(folder: Path, count: int) -> list:
    """``count`` distinct 640x480 JPEGs (crops of the tiny COCO images)."""
    src = sorted((REPO.parent / 'shared/data/coco').glob('*.jpg'))
    rng = np.random.default_rng(0)
    if src:
        pool = [cv2.resize(cv2.imread(str(p)), (960, 720)) for p in src]
    else:  # no shared data: smooth noise of about the same entropy
        pool = [cv2.GaussianBlur(
            rng.integers(0, 255, (720, 960, 3), dtype=np.uint8), (5, 5), 0)]
    files = []
    for i in range(count):
        img = pool[i % len(pool)]
        y, x = rng.integers(0, 240), rng.integers(0, 320)
        path = folder / f'src_{i:05d}.jpg'
        cv2.imwrite(str(path), img[y:y + 480, x:x + 640],
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        files.append(path)
    return files


def make_file(folder: Path, jpegs: list, images: int, per_image: int
              ) -> Path:
    coco = json.loads(
        (REPO.parent / 'shared/data/coco/test_coco.json').read_text()
    ) if (REPO.parent / 'shared/data/coco/test_coco.json').is_file() else None
    people = coco['annotations'] if coco else [
        dict(keypoints=[100, 100, 2] * 17, num_keypoints=17,
             bbox=[50, 50, 100, 200], iscrowd=0, area=20000.)]
    data = dict(images=[], annotations=[],
                categories=[dict(id=1, name='person')])
    (folder / 'img').mkdir()
    for i in range(images):
        name = f'{i:012d}.jpg'
        os.link(jpegs[i % len(jpegs)], folder / 'img' / name)
        data['images'].append(dict(id=i, file_name=name, width=640,
                                   height=480))
        for j in range(per_image):
            person = dict(people[(i * per_image + j) % len(people)])
            person.update(id=i * per_image + j, image_id=i, category_id=1)
            # keep them distinct people: no duplicate box in one image
            person['bbox'] = [person['bbox'][0] + j] + person['bbox'][1:]
            data['annotations'].append(person)
    path = folder / 'train.json'
    path.write_text(json.dumps(data))
    return path


def per_image_ms(fn, reps: int = 100) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=57000)
    parser.add_argument('--per-image', type=int, default=4)
    parser.add_argument('--distinct', type=int, default=400)
    args = parser.parse_args()
    from PIL import Image

    from vitpose_mm.tools import validate_data
    cores = len(os.sched_getaffinity(0))
    folder = Path(tempfile.mkdtemp(prefix='validate_speed_'))
    try:
        jpegs = make_jpegs(folder, args.distinct)
        sizes = [p.stat().st_size for p in jpegs]
        path = make_file(folder, jpegs, args.images, args.per_image)
        data = jpegs[0].read_bytes()
        buf = np.frombuffer(data, np.uint8)

        def pil():
            im = Image.open(io.BytesIO(data))
            im.draft('L', (im.width // 8, im.height // 8))
            im.load()

        print(f'{args.images} images (JPEG 640x480, mean '
              f'{np.mean(sizes) / 1e3:.0f} kB), '
              f'{args.images * args.per_image} annotations; '
              f'{cores} cores; {path.stat().st_size / 1e6:.0f} MB JSON')
        print('| step | seconds |\n|---|---|')
        for name, fn in [
            ('cv2 colour', lambda: cv2.imdecode(buf, cv2.IMREAD_COLOR)),
            ('cv2 gray 1/8', lambda: cv2.imdecode(
                buf, cv2.IMREAD_REDUCED_GRAYSCALE_8)),
            ('PIL draft 1/8', pil),
        ]:
            ms = per_image_ms(fn)
            print(f'| decode one image, {name} | {ms / 1e3:.5f} '
                  f'(x {args.images}: {ms * args.images / 1e3:.1f}) |')
        start = time.perf_counter()
        json.loads(path.read_text())
        print(f'| json.load | {time.perf_counter() - start:.2f} |')
        start = time.perf_counter()
        validate_data.check_annotation_file(str(path), None, 17, train=True)
        print(f'| annotations only | {time.perf_counter() - start:.2f} |')
        for threads in sorted({1, cores}):
            with mock.patch.object(validate_data.os, 'sched_getaffinity',
                                   lambda pid: range(threads)):
                start = time.perf_counter()
                validate_data.check_annotation_file(
                    str(path), str(folder / 'img'), 17, train=True)
            seconds = time.perf_counter() - start
            print(f'| check with images, {threads} thread(s) | '
                  f'{seconds:.2f} ({args.images / seconds:.0f} images/s) |')
    finally:
        shutil.rmtree(folder)


if __name__ == '__main__':
    main()
