"""The image service (Glance's role): image metadata and image data.

Other services reach it through `nova_lite.image.rpcapi.ImageAPI`, which also
streams image data in and out over RPC in base64 chunks, so a compute host needs no
path shared with the image store.
"""
