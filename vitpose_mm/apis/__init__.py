"""Whole-image inference helpers (used by ``vitpose_mm.tools.demo``).

mmdet and mmpose's inference APIs are imported inside the functions that
need them, so importing this package stays cheap.
"""
from .bottomup import estimate_poses_bottomup, is_bottomup
from .boxes import as_boxes, keep_valid_boxes, load_box_file
from .inputs import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, CameraFrames,
                     InputError, VideoFrames, camera_index, list_inputs,
                     read_image)
from .models import (detect_people, detect_people_and_rest, estimate_poses,
                     init_person_detector, init_pose_model, load_config,
                     select_dataset)
from .results import (JsonLinesWriter, make_visualizer, render, to_instances,
                      write_json)
from .tracking import PoseTracker, TrackedFrame

__all__ = [
    'IMAGE_SUFFIXES', 'VIDEO_SUFFIXES', 'CameraFrames', 'InputError',
    'JsonLinesWriter', 'PoseTracker', 'TrackedFrame', 'VideoFrames',
    'camera_index', 'detect_people_and_rest',
    'as_boxes', 'detect_people', 'estimate_poses', 'estimate_poses_bottomup',
    'init_person_detector', 'is_bottomup',
    'init_pose_model', 'keep_valid_boxes', 'list_inputs', 'load_box_file',
    'load_config', 'make_visualizer', 'read_image',
    'render', 'select_dataset', 'to_instances', 'write_json'
]
