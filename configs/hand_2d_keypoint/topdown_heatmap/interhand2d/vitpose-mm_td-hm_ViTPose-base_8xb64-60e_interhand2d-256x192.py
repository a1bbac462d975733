# ViTPose-B on InterHand2.6M 'all' (the original interhand2d/
# ViTPose_base_interhand2d_all_256x192.py): one 21-keypoint instance per
# hand (ViTPoseInterHand2DDataset, as mmpose 0.x's InterHand2DDataset),
# ground-truth hand boxes; trained on all/train, validated on
# machine_annot/val and tested on all/test as the original does (mmpose's
# InterHand loader takes no bbox_file: the test datasets replace the
# base's). The original README's InterHand2.6M rows fine-tune ViTPose++
# multi-task (COCO+AIC+MPII+WholeBody) weights: set load_from to such a
# checkpoint to reproduce them.
_base_ = ['../../../_base_/vitpose_hand-256x192.py']

# The original's schedule: 60 epochs, steps at 40 and 50, evaluation and a
# checkpoint every 5 epochs.
train_cfg = dict(max_epochs=60, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001,
         by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=60, milestones=[40, 50],
         gamma=0.1, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(interval=5))

dataset_type = 'ViTPoseInterHand2DDataset'
data_root = 'data/interhand2.6m/'
# Each split's annotation, camera and joint files and its image folder.
splits = {
    split: dict(
        ann_file=f'annotations/{subset}/InterHand2.6M_{split}_data.json',
        camera_param_file=f'annotations/{subset}/InterHand2.6M_{split}_'
        'camera.json',
        joint_file=f'annotations/{subset}/InterHand2.6M_{split}_'
        'joint_3d.json',
        data_prefix=dict(img=f'images/{split}/'))
    for subset, split in (('all', 'train'), ('machine_annot', 'val'),
                          ('all', 'test'))
}
test_dataset = dict(
    _delete_=True, type=dataset_type, data_root=data_root, test_mode=True,
    pipeline={{_base_.val_pipeline}})

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, **splits['train']))
val_dataloader = dict(dataset=dict(test_dataset, **splits['val']))
test_dataloader = dict(dataset=dict(test_dataset, **splits['test']))
