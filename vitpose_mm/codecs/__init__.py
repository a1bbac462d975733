"""Keypoint codecs registered into ``mmpose.registry.KEYPOINT_CODECS``."""
from .udp_heatmap import ViTPoseUDPHeatmap, dark_udp_decode

__all__ = ['ViTPoseUDPHeatmap', 'dark_udp_decode']
