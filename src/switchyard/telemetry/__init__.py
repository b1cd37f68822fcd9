"""Telemetry: Prometheus metrics, OpenTelemetry traces and structured request logs, fed by the gateway through
narrow hooks (:class:`~switchyard.telemetry.hub.Telemetry`).

This package file imports nothing: :mod:`switchyard.config` imports :mod:`.config` from here, and anything
imported at this level would be imported half-way through loading the configuration module.
"""
