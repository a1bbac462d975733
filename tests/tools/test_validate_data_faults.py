"""Bad data never gives a good-looking number: the pre-run check refuses
non-finite keypoints and boxes, zero-size boxes, foreign visibility flags
and category ids, repeated annotations and images, annotations of
unlisted images and images that do not decode, in one line naming the
file and the annotation; --skip-invalid drops and counts each kind.

Before this check (issue 20), on the tiny COCO set and a model at COCO AP
0.0: one annotation's keypoints NaN/inf scored AP 0.0891, every keypoint
NaN scored AP 1.000 and trained at ``loss: 0.000000``, all with exit
status 0."""
import json
import math
import re
import shutil

import pytest
from mmengine.config import Config

from tests.conftest import REPO, require_shared
from tests.tools.test_train_test import CONFIG, TINY_RUN, run_tool
from tests.tools.test_validate_data import coco_copy  # noqa: F401 (fixture)
from vitpose_mm.tools import train as train_tool
from vitpose_mm.tools import validate_data
from vitpose_mm.tools.data_root import load_run_config
from vitpose_mm.tools.validate_data import (WHOLEBODY_PARTS, InvalidData,
                                            check_annotation_file,
                                            validate_datasets)

NAN, INF = float('nan'), float('inf')


@pytest.fixture
def coco(coco_copy):
    """A writable copy of the tiny COCO set: (folder, its annotations)."""
    return coco_copy


def _save(folder, data, name='test_coco.json'):
    # json.dumps writes NaN / Infinity, as Python's json and many tools do
    (folder / name).write_text(json.dumps(data))
    return str(folder / name)


def _nan_person(data, index=0):
    """Annotation ``index``'s x NaN and y inf (the issue's 0.0891 case)."""
    ann = data['annotations'][index]
    ann['keypoints'] = [
        NAN if i % 3 == 0 else INF if i % 3 == 1 else v
        for i, v in enumerate(ann['keypoints'])
    ]
    return ann


def _refusal(folder, data, **kwargs):
    path = _save(folder, data)
    with pytest.raises(InvalidData) as exc:
        check_annotation_file(path, str(folder), 17, train=True, **kwargs)
    message = str(exc.value)
    assert '\n' not in message and message.startswith(f'{path}: ')
    return message


def test_test_tool_refuses_non_finite_ground_truth_before_evaluating(coco):
    folder, data = coco
    ann = _nan_person(data)
    _save(folder, data)
    # CONFIG stands in for the checkpoint: the refusal comes before it is
    # read, so the evaluator never sees the NaN ground truth
    result = run_tool([
        '-m', 'vitpose_mm.tools.test',
        str(CONFIG),
        str(CONFIG), '--work-dir',
        str(folder / 'work'), '--cfg-options', f'data_root={folder}/'
    ],
                      check=False)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr, result.stderr
    assert re.fullmatch(
        rf"vitpose_mm: {folder}/test_coco.json: annotation id {ann['id']} "
        rf"\(image {ann['image_id']}\) keypoints has nan \(x of keypoint "
        r"0\); --skip-invalid drops such entries", result.stderr.splitlines()[-1]), \
        result.stderr
    assert not (folder / 'work').exists()  # nothing written


def test_train_refuses_an_all_nan_set(coco):
    folder, data = coco
    for ann in data['annotations']:
        ann['keypoints'] = [
            NAN if i % 3 != 2 else v for i, v in enumerate(ann['keypoints'])
        ]
    _save(folder, data)
    with pytest.raises(SystemExit, match=r'keypoints has nan \(x of '
                       r'keypoint 0\) \(and 13 more: 14 non-finite value\)'):
        train_tool.main([
            str(CONFIG), '--work-dir',
            str(folder / 'work'), '--cfg-options', f'data_root={folder}/',
            *TINY_RUN
        ])


def _edit(index, **fields):

    def edit(data):
        data['annotations'][index].update(fields)
        return data['annotations'][index]

    return edit


def _add_copy(data):
    data['annotations'].append(dict(data['annotations'][2]))
    return data['annotations'][2]


def _add_copy_new_id(data):
    data['annotations'].append(dict(data['annotations'][2], id=999))
    return data['annotations'][-1]


def _orphan(data):
    return _edit(4, image_id=123456)(data)


def _repeat_image(data):
    data['images'].append(dict(data['images'][1]))
    return dict(id='', image_id=data['images'][1]['id'])


def _same_file(data):
    data['images'].append(dict(data['images'][1], id=777))
    return dict(id='', image_id=777)


ANNOTATION_CASES = {
    'nan keypoint': (_edit(0, keypoints=[NAN] + [0] * 50),
                     r'keypoints has nan \(x of keypoint 0\)'),
    'inf keypoint': (_edit(1, keypoints=[0] * 49 + [-INF, 2]),
                     r'keypoints has -inf \(y of keypoint 16\)'),
    'string keypoint': (_edit(1, keypoints=['1'] + [0] * 50),
                        r"keypoints has str '1' \(x of keypoint 0\)"),
    'nan box': (_edit(2, bbox=[10, NAN, 30, 40]),
                r'bbox has nan \(value 1\)'),
    'zero-size box': (_edit(0, bbox=[10, 10, 0, 40]),
                      r'has bbox \[10, 10, 0, 40\] of zero size'),
    'visibility flag': (_edit(0, keypoints=[1, 1, 3] + [0] * 48),
                        r'keypoints has visibility flag 3 at keypoint 0, '
                        r'not one of 0, 1, 2'),
    'category 2': (_edit(3, category_id=2),
                   r"has category_id 2, not one of the file's categories "
                   r'\[1\]'),
    'category 99': (_edit(3, category_id=99), r'has category_id 99'),
    'duplicate id': (_add_copy, r'repeats annotation id \d+ '
                     r'\(annotations\[2\] and annotations\[14\]\)'),
    'duplicate person': (_add_copy_new_id,
                         r'is the same person as annotation id \d+ \(same '
                         r'image, box and keypoints\)'),
    'unlisted image': (_orphan, r"belongs to an image id that the file's "
                       'images do not list'),
}


@pytest.mark.parametrize('case', ANNOTATION_CASES)
def test_bad_annotation_is_refused_naming_it(coco, case):
    folder, data = coco
    corrupt, pattern = ANNOTATION_CASES[case]
    ann = corrupt(data)
    message = _refusal(folder, data)
    where = rf"annotation id {ann['id']} \(image {ann['image_id']}\) "
    assert re.search(where + pattern, message), message
    assert message.endswith('; --skip-invalid drops such entries')


@pytest.mark.parametrize('corrupt, pattern', [
    (_repeat_image, r'image id 40083 is listed twice \(images\[1\] and '
     r'images\[4\]\)'),
    (_same_file, r'image id 777: file 000000040083.jpg is also image id '
     '40083'),
])
def test_repeated_image_is_refused(coco, corrupt, pattern):
    folder, data = coco
    corrupt(data)
    assert re.search(pattern, _refusal(folder, data))


def test_unlabelled_zero_size_box_and_crowd_pass(coco):
    """COCO and mmpose ignore people without a labelled keypoint and
    crowds; a zero-size box there harms nothing and passes."""
    folder, data = coco
    unlabelled = next(a for a in data['annotations']
                      if not a['num_keypoints'])
    unlabelled['bbox'] = [5, 5, 0, 0]
    data['annotations'][0].update(iscrowd=1, bbox=[5, 5, 10, 0])
    path = _save(folder, data)
    assert check_annotation_file(path, str(folder), 17, True)[1] == []


@pytest.mark.parametrize('content, reason', [
    (lambda jpg: jpg[:len(jpg) // 2], r'does not decode as an image \(\d+ '
     r'bytes; truncated or not an image\)'),
    (lambda jpg: b'not a jpeg\n', 'does not decode as an image'),
    (lambda jpg: b'', r'is empty \(0 bytes\)'),
])
def test_image_that_does_not_decode_is_refused(coco, content, reason):
    folder, data = coco
    name = '000000196141.jpg'
    jpg = (folder / name).read_bytes()
    (folder / name).unlink()
    (folder / name).write_bytes(content(jpg))
    message = _refusal(folder, data)
    assert re.search(rf'image id 196141: file {folder}/{name} {reason}',
                     message), message


def test_skip_invalid_drops_and_counts_each_kind(coco, capsys):
    folder, data = coco
    n_images, n_anns = len(data['images']), len(data['annotations'])
    _edit(0, keypoints=[NAN] * 51)(data)
    _edit(1, category_id=99)(data)
    _edit(5, bbox=[1, 1, 0, 5])(data)
    _add_copy(data)
    _orphan(data)
    _repeat_image(data)
    (folder / '000000197388.jpg').unlink()
    (folder / '000000197388.jpg').write_bytes(b'\xff\xd8\xff')
    with_image = sum(a['image_id'] == 197388 for a in data['annotations'])
    path = _save(folder, data)
    cfg = Config.fromfile(CONFIG)
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].dataset.data_root = f'{folder}/'
    cfg.val_evaluator.ann_file = path
    cfg.work_dir = str(folder / 'work')
    with pytest.raises(SystemExit, match=r'\(and 6 more: 1 non-finite '
                       r'value, 1 zero-size box, 1 category id, 1 duplicate '
                       r'annotation, 1 duplicate image, 1 unlisted image, 1 '
                       r'undecodable image\)'):
        validate_datasets(cfg, ('train_dataloader', ))
    dropped = validate_datasets(cfg,
                                ('train_dataloader', 'val_dataloader',
                                 'val_evaluator'),
                                skip_invalid=True)
    assert dropped == {path: 7}
    log = capsys.readouterr().out
    assert ('--skip-invalid dropped 7 entries of '
            f'{path} (1 non-finite value, 1 zero-size box') in log
    cleaned = json.loads(
        (folder / 'work/checked_annotations/'
         'train_dataloader.dataset.json').read_text())
    # 5 bad annotations, the undecodable image with its people, the repeat
    assert len(cleaned['annotations']) == n_anns - 4 - with_image
    assert len(cleaned['images']) == n_images - 1
    assert cfg.val_evaluator.ann_file.endswith('val_dataloader.dataset.json')
    assert not any(
        not math.isfinite(v) for a in cleaned['annotations']
        for v in a['keypoints'])


def test_evaluator_ground_truth_of_another_file_is_checked(coco):
    folder, data = coco
    _save(folder, data)
    gt = dict(data)
    _nan_person(gt, 5)
    other = _save(folder, gt, 'gt.json')
    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader.dataset.data_root = f'{folder}/'
    cfg.test_evaluator.ann_file = other
    cfg.work_dir = str(folder / 'work')
    with pytest.raises(SystemExit, match=rf'{other}: annotation id '
                       rf"{gt['annotations'][5]['id']} .* keypoints has nan"):
        validate_datasets(cfg, ('test_dataloader', 'test_evaluator'))


def test_images_decode_once(coco, monkeypatch):
    """Each image is decoded once per work directory: a second check (a
    resumed run) decodes only files that changed."""
    folder, data = coco
    _save(folder, data)
    cfg = Config.fromfile(CONFIG)
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].dataset.data_root = f'{folder}/'
    cfg.val_evaluator.ann_file = str(folder / 'test_coco.json')
    cfg.work_dir = str(folder / 'work')
    calls = []
    decode = validate_data.decode_problem
    monkeypatch.setattr(validate_data, 'decode_problem',
                        lambda path: calls.append(path) or decode(path))
    sections = ('train_dataloader', 'val_dataloader', 'val_evaluator')
    validate_datasets(cfg, sections)
    assert len(calls) == 4  # train and val share the file and images
    validate_datasets(cfg, sections)
    assert len(calls) == 4
    changed = folder / '000000000785.jpg'
    data = changed.read_bytes()
    changed.unlink()
    changed.write_bytes(data)  # another file, same bytes
    validate_datasets(cfg, sections)
    assert calls[4:] == [str(changed)]


def test_mpii_entries_are_checked(tmp_path):
    mpii = require_shared('data/mpii')
    entries = json.loads((mpii / 'test_mpii.json').read_text())
    cases = [
        ({'joints': [[NAN, 1]] + entries[0]['joints'][1:]},
         r'entry 0 .* joints has nan \(x of joint 0\)'),
        ({'joints_vis': [2] + [1] * 15},
         r'joints_vis has visibility flag 2 at keypoint 0, not one of 0, 1'),
        ({'scale': 0}, r'has scale 0: the person box has no size'),
        ({'center': [INF, 3]}, r'center has inf'),
    ]
    for fields, pattern in cases:
        bad = [dict(entries[0], **fields)] + entries[1:]
        path = tmp_path / 'mpii.json'
        path.write_text(json.dumps(bad))
        with pytest.raises(InvalidData, match=pattern):
            check_annotation_file(str(path), str(mpii), 16, train=True)
    path.write_text(json.dumps(entries + [entries[2]]))
    with pytest.raises(InvalidData, match=r'entry 5 .* is the same person '
                       'as entry 2'):
        check_annotation_file(str(path), str(mpii), 16, train=True)


def test_every_shipped_format_passes(tmp_path):
    """The tiny real sets of every format the configs read pass unchanged:
    the six datasets of ViTPose+ (COCO, AIC, MPII, AP-10K, APT-36K,
    COCO-WholeBody: 133 keypoints over five arrays), CrowdPose and
    OCHuman; a NaN in a COCO-WholeBody hand is still refused."""
    data = require_shared('data')
    plus = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/vitpose_plus/'
            'vitpose-mm_td-hm_ViTPose-plus-tiny_1xb16-3e_6datasets-tiny-'
            '256x192.py')
    cfg = load_run_config(str(plus), {'data_root': f'{data}/'})
    cfg.work_dir = str(tmp_path / 'plus')
    assert validate_datasets(
        cfg, ('train_dataloader', 'val_dataloader', 'val_evaluator')) == {}
    for folder, kind, name, k in [('crowdpose', 'CrowdPoseDataset',
                                   'test_crowdpose.json', 14),
                                  ('ochuman', 'OCHumanDataset',
                                   'test_ochuman.json', 17)]:
        assert check_annotation_file(
            str(data / folder / name), str(data / folder), k, True)[1] == []
    wholebody = json.loads((data / 'coco/test_coco_wholebody.json'
                            ).read_text())
    wholebody['annotations'][2]['lefthand_kpts'][4] = NAN
    path = tmp_path / 'wb.json'
    path.write_text(json.dumps(wholebody))
    with pytest.raises(InvalidData, match=r'lefthand_kpts has nan \(y of '
                       r'keypoint 1\)'):
        check_annotation_file(str(path), str(data / 'coco'), 133, True,
                              parts=WHOLEBODY_PARTS)
    shutil.rmtree(tmp_path)
