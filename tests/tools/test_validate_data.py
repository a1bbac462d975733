"""Bad annotation files stop the train / test tools in one line naming the
file and the annotation, before any model is built; --skip-invalid drops
and counts them instead."""
import json
import shutil

import pytest

from tests.conftest import require_shared
from tests.tools.test_train_test import CONFIG, TINY_RUN, run_tool
from vitpose_mm.tools import test as test_tool
from vitpose_mm.tools import train as train_tool
from vitpose_mm.tools.validate_data import InvalidData, check_annotation_file


@pytest.fixture
def coco_copy(tmp_path):
    """A writable copy of the tiny COCO set: (folder, its annotations)."""
    src = require_shared('data/coco')
    dst = tmp_path / 'coco'
    dst.mkdir()
    for image in src.glob('*.jpg'):
        (dst / image.name).symlink_to(image)
    shutil.copy(src / 'test_coco.json', dst / 'test_coco.json')
    return dst, json.loads((dst / 'test_coco.json').read_text())


def _write(folder, data):
    (folder / 'test_coco.json').write_text(json.dumps(data))


def _train(folder, *extra):
    train_tool.main([
        str(CONFIG), '--work-dir',
        str(folder / 'work'), *extra, '--cfg-options',
        f'data_root={folder}/', *TINY_RUN
    ])


def _edit(data, index, **fields):
    data['annotations'][index].update(fields)
    return data['annotations'][index]['id'], data['annotations'][index][
        'image_id']


@pytest.mark.parametrize('corrupt, message', [
    (lambda d: _edit(d, 3, keypoints=[1, 1, 2] * 14),
     r'annotation id {0} \(image {1}\) has 42 keypoint values, expected '
     r'3 x 17 = 51'),
    (lambda d: _edit(d, 2, bbox=[10, 10, -5, 40]),
     r'annotation id {0} \(image {1}\) has bbox \[10, 10, -5, 40\]'),
])
def test_bad_annotation_is_one_line(coco_copy, corrupt, message):
    folder, data = coco_copy
    ids = corrupt(data)
    _write(folder, data)
    with pytest.raises(SystemExit) as exc:
        _train(folder)
    msg = str(exc.value.code)
    assert '\n' not in msg
    assert msg.startswith(f"vitpose_mm: {folder / 'test_coco.json'}: ")
    import re
    assert re.search(message.format(*ids), msg), msg
    assert '--skip-invalid' in msg


def test_truncated_json_names_the_file(coco_copy):
    folder, _ = coco_copy
    text = (folder / 'test_coco.json').read_text()
    (folder / 'test_coco.json').write_text(text[:len(text) // 2])
    with pytest.raises(SystemExit, match=r'test_coco.json: not valid JSON '
                       r'\(.* at line \d+, column \d+\)$'):
        _train(folder)
    # the test tool too, before it reads the checkpoint
    with pytest.raises(SystemExit, match='test_coco.json: not valid JSON'):
        test_tool.main([
            str(CONFIG), str(CONFIG), '--cfg-options',
            f'data_root={folder}/'
        ])


def test_missing_image_names_it(coco_copy):
    folder, data = coco_copy
    (folder / '000000040083.jpg').unlink()
    with pytest.raises(SystemExit, match=r'image id 40083: file '
                       r'.*000000040083.jpg not found'):
        _train(folder)


def test_all_invisible_training_set_is_refused(coco_copy):
    folder, data = coco_copy
    for ann in data['annotations']:
        ann['keypoints'] = [0] * 51
        ann['num_keypoints'] = 0
    _write(folder, data)
    with pytest.raises(SystemExit, match='no person left for training'):
        _train(folder)


def test_skip_invalid_drops_and_counts_then_trains(coco_copy, capsys):
    folder, data = coco_copy
    _edit(data, 3, keypoints=[1, 1, 2] * 14)
    _edit(data, 5, bbox=[0, 0, 10, -1])
    _write(folder, data)
    data_root = f'{folder}/'
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(folder / 'work'), '--skip-invalid', '--cfg-options',
        f'data_root={data_root}', *TINY_RUN
    ])
    log = result.stdout + result.stderr
    assert '--skip-invalid dropped 2 entries of' in log
    assert 'Epoch(train) [1][2/2]' in log
    cleaned = json.loads(
        (folder / 'work/checked_annotations/'
         'train_dataloader.dataset.json').read_text())
    assert len(cleaned['annotations']) == len(data['annotations']) - 2


def test_mpii_list_format_is_checked():
    mpii = require_shared('data/mpii')
    data, dropped = check_annotation_file(
        str(mpii / 'test_mpii.json'), str(mpii), 16, train=True)
    assert len(data) == 5 and dropped == []
    with pytest.raises(InvalidData, match=r'entry 0 \(image .*\) has 16 '
                       'joints, expected 17'):
        check_annotation_file(str(mpii / 'test_mpii.json'), str(mpii), 17,
                              train=True)
