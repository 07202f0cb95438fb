"""The panel's settings, stored per scene (``scene.pifuhd``) so they are saved with the .blend file.

This is the only Blender declaration of the reconstruction settings: the reconstruct operator reads them
here (:func:`settings_values`), and ``request.py`` turns them into the backend's one options type.
"""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from . import estimate
from .bake import SIZE_ITEMS, UNWRAP_ITEMS
from .placement import DEFAULT_HEIGHT
from .export import FORMAT_ITEMS, TARGET_ITEMS
from .rig import NAMING_ITEMS, WEIGHT_ITEMS

DEVICE_ITEMS = [
    ("AUTO", "Auto", "Use an NVIDIA (CUDA) or Apple (MPS) GPU when there is one, else the CPU"),
    ("CPU", "CPU", "Run on the processor (works everywhere, slower)"),
    ("GPU", "GPU", "Run on the graphics card (CUDA or Apple MPS); fails if there is none"),
]

QUALITIES = (256, 384, 512)
QUALITY_ITEMS = [
    ("256", "Draft (256)", "Grid of 256 points per axis: " + estimate.describe(256, "cpu")),
    ("384", "Good (384)", "Grid of 384 points per axis: " + estimate.describe(384, "cpu")),
    ("512", "Best (512)", "Grid of 512 points per axis, the official setting: " + estimate.describe(512, "cpu")),
    ("CUSTOM", "Custom", "Grid of Resolution points per axis (16 to 1024; other values are refused)"),
]

#: Polygon budgets: the identifiers are backend.options.BUDGETS' names in capitals (request.py maps them).
BUDGET_ITEMS = [
    ("MOBILE", "10k (Mobile)", "Decimate to about 10,000 triangles: phones, crowds"),
    ("GAME", "30k (Game)", "Decimate to about 30,000 triangles: a main character in a game"),
    ("HIGH", "100k", "Decimate to about 100,000 triangles: close-ups, offline rendering"),
    ("FULL", "Full", "Keep every triangle the reconstruction made (often several hundred thousand)"),
]

SOURCE_ITEMS = [
    ("FILE", "File", "A photo file on disk"),
    ("IMAGE", "Image", "An image already loaded in Blender"),
]


def _is_image(_self, image) -> bool:
    return image.type not in {'RENDER_RESULT', 'COMPOSITING'}  # those have no pixels to read


class PIFUHD_PG_settings(bpy.types.PropertyGroup):
    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="FILE",
                         description="Where the photo comes from")
    filepath: StringProperty(name="Photo", subtype='FILE_PATH',
                             description="Photo of one person, ideally head to toe (PNG, JPEG, WebP, TIFF, BMP)")
    image: PointerProperty(name="Image", type=bpy.types.Image, poll=_is_image,
                           description="An image already loaded in Blender (e.g. in the Image Editor)")
    quality: EnumProperty(name="Quality", items=QUALITY_ITEMS, default="256",
                          description="Resolution of the surface: higher shows more detail but takes longer")
    # No hard limits here: Blender would clamp silently; the options check refuses a value out of range.
    resolution: IntProperty(name="Resolution", default=256, soft_min=64, soft_max=1024,
                            description="Grid points per axis with the Custom quality (16 to 1024)")
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="AUTO",
                         description="Where the networks run")
    remove_background: BoolProperty(name="Remove Background", default=True,
                                    description="Find the person and replace everything else with grey "
                                                "before reconstructing")
    target_height: FloatProperty(name="Height", default=DEFAULT_HEIGHT, min=0.05, max=10.0, soft_min=0.5, soft_max=2.5,
                                 subtype='DISTANCE', unit='LENGTH', precision=3,
                                 description="Height of the person in the scene")
    use_colors: BoolProperty(name="Colors", default=True,
                             description="Color the mesh with the photo's colors (a color attribute)")

    # -- Game-ready
    poly_budget: EnumProperty(name="Polygon Budget", items=BUDGET_ITEMS, default="FULL",
                              description="Triangles to keep: the mesh is decimated to this count, colors kept")
    use_cleanup: BoolProperty(name="Clean Up", default=True,
                              description="Keep only the person (drop floating fragments), close small holes and "
                                          "remove degenerate faces")
    use_color_fill: BoolProperty(name="Color Fill", default=True,
                                 description="Photo color only where the camera saw the surface; the back "
                                             "like the front of the same part where it matches the sides, "
                                             "hidden parts filled from nearby colors")
    use_rig: BoolProperty(name="Rig", default=False,
                          description="Add a humanoid armature (from the photo's body keypoints), skinned, "
                                      "after reconstructing")
    rig_naming: EnumProperty(name="Bone Names", items=NAMING_ITEMS, default="HUMANOID",
                             description="Naming convention of the rig's bones")
    rig_weights: EnumProperty(name="Weights", items=WEIGHT_ITEMS, default="PARTS",
                              description="How each vertex is bound to the bones")
    rig_separate_parts: BoolProperty(name="Separate Touching Parts", default=True,
                                     description="With Body Parts weights: cut the mesh where a hand rests on a "
                                                 "hip, an arm lies against the torso or the legs touch, and close "
                                                 "each side, so each part moves on its own (changes the mesh)")
    use_bake: BoolProperty(name="Bake Texture", default=False,
                           description="Unwrap the mesh and bake its colors into an image texture after "
                                       "reconstructing (for engines that ignore vertex colors)")
    bake_size: EnumProperty(name="Texture Size", items=SIZE_ITEMS, default="2048",
                            description="Size of the baked texture in pixels")
    bake_unwrap: EnumProperty(name="Unwrap", items=UNWRAP_ITEMS, default="AUTO",
                              description="How the UV islands of the baked texture are made")
    export_target: EnumProperty(name="Engine", items=TARGET_ITEMS, default="UNITY",
                                description="The game engine the export preset is for")
    export_format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="AUTO",
                                description="File format of the export")

    back_filepath: StringProperty(name="Back Photo", subtype='FILE_PATH',
                                  description="Optional photo of the person's back (a cut-out PNG, or a photo the "
                                              "person can be found in) that colors the back; used with "
                                              "Color Fill")

    def resolution_value(self) -> int:
        """Grid points per axis: the quality preset's, or ``resolution`` with the Custom quality."""
        return self.resolution if self.quality == 'CUSTOM' else int(self.quality)

    def photo_label(self) -> str:
        if self.source == 'IMAGE':
            return self.image.name if self.image else ""
        return bpy.path.basename(self.filepath)


def settings_values(settings: PIFUHD_PG_settings) -> dict:
    """The reconstruction settings as plain values (for ``request.options_from_settings``): paths made
    absolute, the quality as the resolution."""
    return {"resolution": settings.resolution_value(), "device": settings.device,
            "remove_background": settings.remove_background, "use_colors": settings.use_colors,
            "use_cleanup": settings.use_cleanup, "use_color_fill": settings.use_color_fill,
            "poly_budget": settings.poly_budget,
            "back_filepath": bpy.path.abspath(settings.back_filepath) if settings.back_filepath else ""}


CLASSES = (PIFUHD_PG_settings,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.pifuhd = PointerProperty(type=PIFUHD_PG_settings)


def unregister() -> None:
    del bpy.types.Scene.pifuhd
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
