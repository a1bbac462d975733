# ViTPose+-B tested on MPII validation (PCKh@0.5) alone, with expert and head
# 'mpii' of a six-dataset checkpoint (e.g. the released ViTPose+-B, converted).
# test_cfg.dataset also makes the model's dataset_meta, used by the visualiser
# and mmpose's inference API, that of mpii. The test set is the plain dataset
# (not the multi-dataset wrapper), so mmpose's inference_topdown can use this
# config.
_base_ = ['./vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py']
model = dict(test_cfg=dict(dataset='mpii'))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MpiiDataset',
        data_root={{_base_.val_mpii.data_root}},
        ann_file={{_base_.val_mpii.ann_file}},
        headbox_file={{_base_.val_mpii.headbox_file}},
        data_prefix={{_base_.val_mpii.data_prefix}},
        test_mode=True,
        pipeline={{_base_.val_mpii.pipeline}}))
test_evaluator = dict(
    metrics=[{{_base_.mpii_metric}}],
    datasets=[{{_base_.val_mpii}}])
