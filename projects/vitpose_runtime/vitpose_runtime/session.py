"""onnxruntime sessions on the CPU."""
from pathlib import Path

import onnxruntime as ort


def make_session(path: str, threads: int = 0) -> ort.InferenceSession:
    """A CPU ``InferenceSession`` of ``path`` (all graph optimisations).

    Args:
        path (str): An ``.onnx`` file.
        threads (int): Intra-op threads; 0 lets onnxruntime choose (one per
            physical core).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If onnxruntime cannot load it (the message names it).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f'ONNX file {path} not found')
    options = ort.SessionOptions()
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    if threads:
        options.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(str(path), options,
                                    providers=['CPUExecutionProvider'])
    except Exception as err:  # onnxruntime raises its own exception types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f'cannot load ONNX file {path}: {first}') from None
