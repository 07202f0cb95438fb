"""Photo preparation: any photo in, the person's crop, mask, BODY_25 keypoints and network inputs out.

Offline, with MediaPipe Pose 0.10.21 (imported on first use, so ``import backend`` stays light). Modules,
one job each: ``body25`` (keypoint layout and MediaPipe mapping), ``detect`` (MediaPipe, several people),
``crop`` (official full-body crop rule), ``mask`` (person mask, GrabCut refinement), ``inputs`` (network
inputs from the crop window), ``checks`` (framing warnings), ``preview`` (what the networks see),
``prepare`` (the entry point). Photo loading lives in :mod:`backend.image_io`.
"""
from .prepare import PreparedPhoto, prepare_photo

__all__ = ["PreparedPhoto", "prepare_photo"]
