# The simple decoder of the ViTPose paper (Sec. 3.1): ReLU on the backbone
# features, bilinear x4 upsampling, then a 3x3 conv to the heatmaps. mmpose's
# FeatureMapProcessor + a HeatmapHead without deconvolutions compute exactly
# this (tests/models/test_original_parity.py checks it on the fixtures).
# A ``-simple`` config inherits its size config and this file, then sets
# ``model = dict(neck=simple_neck, head=simple_head)`` by reference.
simple_neck = dict(type='FeatureMapProcessor', scale_factor=4.0,
                   apply_relu=True)
simple_head = dict(deconv_out_channels=[], deconv_kernel_sizes=[],
                   final_layer=dict(kernel_size=3, padding=1))
