"""From risk to action: value, segments and priority."""
