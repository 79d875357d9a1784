"""Loop analysis: feedback loops of a model and their dominance over a run (Loops that Matter)."""
