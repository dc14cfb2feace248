"""Everything between a sensor and the DSP core: samples, recordings, replay, transports."""

from firmware_bridge.samples import SampleBlock

__all__ = ["SampleBlock"]
