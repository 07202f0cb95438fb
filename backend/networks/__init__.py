"""PIFuHD's networks, with the official parameter names (so the released state dict loads strictly)."""
from .options import LevelOptions
from .pifu import NETWORK_STATES, CoarsePIFu, FeatureMaps, PIFuHD, project, sample_features

__all__ = ["NETWORK_STATES", "LevelOptions", "CoarsePIFu", "FeatureMaps", "PIFuHD", "project", "sample_features"]
