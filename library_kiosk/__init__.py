"""The parts of the library kiosk product that the kiosk box, the staff station and the central store share,
and the central store itself. See the layout table in docs/DEVELOPING.md."""
