# ViTPose-B on InterHand2.6M 'all' (the original interhand2d/
# ViTPose_base_interhand2d_all_256x192.py): one 21-keypoint instance per hand
# (ViTPoseInterHand2DDataset, as mmpose 0.x's InterHand2DDataset), ground-truth
# hand boxes; trained on all/train, validated on machine_annot/val and tested
# on all/test as the original does (mmpose's InterHand loader takes no
# bbox_file: the test datasets replace the base's). The original README's InterHand2.6M rows
# fine-tune ViTPose++ multi-task (COCO+AIC+MPII+WholeBody) weights: set
# load_from to such a checkpoint to reproduce them.
_base_ = ['../../../_base_/vitpose_hand-256x192.py']

dataset_type = 'ViTPoseInterHand2DDataset'
data_root = 'data/interhand2.6m/'
train = 'annotations/all/InterHand2.6M_train'
val = 'annotations/machine_annot/InterHand2.6M_val'
test = 'annotations/all/InterHand2.6M_test'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file=f'{train}_data.json',
        camera_param_file=f'{train}_camera.json',
        joint_file=f'{train}_joint_3d.json',
        data_prefix=dict(img='images/train/')))
val_dataloader = dict(
    dataset=dict(
        _delete_=True, type=dataset_type, data_root=data_root,
        test_mode=True, pipeline={{_base_.val_pipeline}},
        ann_file=f'{val}_data.json',
        camera_param_file=f'{val}_camera.json',
        joint_file=f'{val}_joint_3d.json',
        data_prefix=dict(img='images/val/')))
test_dataloader = dict(
    dataset=dict(
        _delete_=True, type=dataset_type, data_root=data_root,
        test_mode=True, pipeline={{_base_.val_pipeline}},
        ann_file=f'{test}_data.json',
        camera_param_file=f'{test}_camera.json',
        joint_file=f'{test}_joint_3d.json',
        data_prefix=dict(img='images/test/')))
