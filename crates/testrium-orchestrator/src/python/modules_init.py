"""Probe API for units: ``from testrium.modules.events import Events_Manager``."""
