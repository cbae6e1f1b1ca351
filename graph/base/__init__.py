"""The bottom layer: settings, and the text, privacy and normalisation helpers.

Every package imports from here; nothing here imports graph, nodes, tools, knowledge or server
(tests/unit/test_layers.py checks it).
"""
