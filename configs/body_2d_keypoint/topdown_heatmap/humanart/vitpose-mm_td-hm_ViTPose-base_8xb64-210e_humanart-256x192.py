# ViTPose-B on Human-Art (real, 2D and 3D virtual humans; COCO's 17
# keypoints and OKS sigmas). The original repo has no Human-Art config; this
# is mmpose 1.3.2's humanart/td-hm_ViTPose-base_8xb64-210e_humanart-256x192.py:
# the COCO recipe of vitpose_coco-256x192.py (AdamW, layer decay, UDP)
# trained on Human-Art's training_humanart_coco.json (Human-Art and COCO
# train2017 in one file) and tested on Human-Art validation with the
# AP-56 person detections. mmpose's HumanArtDataset and CocoMetric,
# reported as humanart/AP. For the ground-truth box protocol
# ('Human-Art(GT)' in mmpose's metafile) test with
# --cfg-options test_dataloader.dataset.bbox_file=None.
_base_ = ['../../../_base_/vitpose_coco-256x192.py']

data_root = 'data/'
default_hooks = dict(checkpoint=dict(save_best='humanart/AP'))
train_dataloader = dict(
    dataset=dict(
        type='HumanArtDataset', data_root=data_root,
        ann_file='HumanArt/annotations/training_humanart_coco.json',
        data_prefix=dict(img='')))
val_dataloader = dict(
    dataset=dict(
        type='HumanArtDataset', data_root=data_root,
        ann_file='HumanArt/annotations/validation_humanart.json',
        bbox_file=data_root + 'HumanArt/person_detection_results/'
        'HumanArt_validation_detections_AP_H_56_person.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'HumanArt/annotations/validation_humanart.json',
    prefix='humanart')
test_evaluator = val_evaluator
