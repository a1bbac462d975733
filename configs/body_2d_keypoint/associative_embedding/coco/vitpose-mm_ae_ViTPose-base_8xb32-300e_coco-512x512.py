# Bottom-up ViTPose-B (768/12/12) with associative embedding, COCO 512x512:
# the base file as it is.
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']
