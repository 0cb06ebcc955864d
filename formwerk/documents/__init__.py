"""The page layer: sniff a file's real type, split it into pages, read text
layers and AcroForm values, rasterise scans and make them upright.

Pure functions over bytes and PIL images; no Temporal, no settings.
"""
