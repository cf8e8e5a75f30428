"""The appliance: installing, upgrading, checking and reporting a kiosk, station or central box.

``library_kiosk.appliance.install`` and ``library_kiosk.appliance.upgrade`` use only the standard library, so
``deploy/install.sh`` can run them with the system's python3 before any virtual
environment exists.
"""
