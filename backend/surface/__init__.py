"""From an occupancy field to a triangle mesh: the grid, sampling strategies and marching cubes."""
from .grid import EVAL_CALIB, IndexToCube, index_to_cube, index_to_cube_matrix, index_to_ndc_matrix
from .marching import marching_cubes
from .sampling import EvaluationCounter, FieldFn, initial_step, sample_coarse_to_fine, sample_dense
from .volume import CroppedVolume

__all__ = [
    "EVAL_CALIB", "IndexToCube", "index_to_cube", "index_to_cube_matrix", "index_to_ndc_matrix", "marching_cubes",
    "CroppedVolume", "EvaluationCounter", "FieldFn", "initial_step", "sample_coarse_to_fine", "sample_dense",
]
