"""Middle floor: analyses over event frames, each returning a plain ``Report`` for the renderers."""
