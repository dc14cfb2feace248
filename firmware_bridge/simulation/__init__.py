"""Internals of the virtual wearable sensor; the public face is :mod:`firmware_bridge.simulator`.

One module per job: ``signals`` (smooth motion primitives with exact
derivatives), ``kinematics`` (rigid-body chain -> accelerometer and gyroscope),
``body`` (placements and axis conventions), ``activities`` (what a person does
and the tremors, with ground truth), ``postures`` (dystonic postures and
spasms, head sway, turns, nods and walking), ``scenarios`` (named timelines),
``sensor`` (MEMS imperfections), ``render`` (chunked generation) and
``groundtruth`` (the BIDS-style events table).
"""
