# The original repo's single-dataset top-down recipe (configs/body/
# 2d_kpt_sview_rgb_img/topdown_heatmap/{mpii,crowdpose,aic,ochuman}/
# ViTPose_base_*_256x192.py): the COCO ViTPose-B model and pipeline of
# vitpose_coco-256x192.py, trained with plain Adam lr 5e-4 (no weight decay,
# no layer-wise decay, no gradient clipping), 210 epochs, steps at 170 and
# 200, 500 warm-up iterations. Each dataset config sets its data, keypoint
# count and metric on top of this file.
_base_ = ['./vitpose_coco-256x192.py']

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-4))
