"""Web plumbing shared by the three Flask apps (kiosk, staff station, central store API)."""
