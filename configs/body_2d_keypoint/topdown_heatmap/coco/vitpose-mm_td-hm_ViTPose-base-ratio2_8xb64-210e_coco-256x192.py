# ViTPose-B with finer tokens (ViTPose paper, Sec. 3.3 and the feature-
# resolution ablation of Sec. 4.2): patch stride 8 instead of 16
# (ratio=2, overlapping 16x16 patches), a 32x24 grid of 768 tokens, i.e.
# 1/8 feature resolution at 256x192. The classic decoder keeps one 2x
# deconvolution so the heatmaps stay 64x48 (1/4) and the codec is
# unchanged. MAE or 256x192 ViTPose weights load with pos_embed resized
# from their grid to 32x24.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']

model = dict(
    backbone=dict(ratio=2),
    head=dict(deconv_out_channels=(256, ), deconv_kernel_sizes=(4, )))
