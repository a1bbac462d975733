# The small size config with the simple decoder.
_base_ = ['./vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py',
          '../../../_base_/vitpose_simple_decoder.py']
model = dict(neck={{_base_.simple_neck}}, head={{_base_.simple_head}})
