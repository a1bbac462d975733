"""Keypoint codecs registered into ``mmpose.registry.KEYPOINT_CODECS``."""
from .associative_embedding import ViTPoseAssociativeEmbedding
from .udp_heatmap import ViTPoseUDPHeatmap, dark_udp_decode

__all__ = ['ViTPoseAssociativeEmbedding', 'ViTPoseUDPHeatmap',
           'dark_udp_decode']
