# ViTPose-B (768/12/12), classic decoder: drop path 0.3, layer decay 0.75.
_base_ = ['../../../_base_/vitpose_coco-256x192.py']
