"""Rendering: the model becomes every file that will be deployed, under build/."""
