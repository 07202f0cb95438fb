"""What the operators that work on the selected person share: their poll, and the panel's settings as the
defaults of the properties a caller did not set (Rig, Bake, Export)."""
from __future__ import annotations


class PersonOperator:
    """Mixin for operators on the active mesh in Object Mode. ``PANEL_DEFAULTS`` maps an operator property
    to the ``scene.pifuhd`` setting it takes when the caller did not set it."""

    PANEL_DEFAULTS: dict[str, str] = {}

    @classmethod
    def poll(cls, context):
        ob = context.active_object
        if ob is None or ob.type != 'MESH':
            cls.poll_message_set("Select the reconstructed person (a mesh) first")
            return False
        return context.mode == 'OBJECT'

    def apply_panel_defaults(self, context) -> None:
        settings = getattr(context.scene, "pifuhd", None)
        if settings is None:
            return
        for prop, setting in self.PANEL_DEFAULTS.items():
            if not self.properties.is_property_set(prop):
                setattr(self, prop, getattr(settings, setting))

    def invoke(self, context, event):
        self.apply_panel_defaults(context)
        return self.execute(context)
