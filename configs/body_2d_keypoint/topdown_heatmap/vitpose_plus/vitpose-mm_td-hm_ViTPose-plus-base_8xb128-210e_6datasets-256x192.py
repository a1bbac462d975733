# ViTPose+-B (768/12/12, 6 experts of 192 channels): drop path 0.3, layer
# decay 0.75 over 12 layers.
_base_ = ['./_base_/vitpose-plus_6datasets-256x192.py']
